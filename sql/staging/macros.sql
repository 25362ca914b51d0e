-- Normalizers shared by every source's staging SELECT, so that a field means the same thing whichever system it
-- came from. Created once per connection by warehouse.run_staging() before the per-source SELECTs run.

-- Organization names: case, punctuation, "&"/"and", and legal suffixes do not tell two clients apart
-- ("Contoso, Inc." = "Contoso Inc" = "CONTOSO"); branch words do ("Acme Dental - North" != "- South").
-- (RE2 has no look-ahead: each word is padded with spaces and the suffix pass runs twice for "Co., Inc.".)
CREATE OR REPLACE MACRO _strip_legal(padded) AS regexp_replace(padded,
    ' (the|inc|incorporated|llc|ltd|limited|corp|corporation|co|company|gmbh|plc|pty|pc|llp|lp|sa|ag|bv) ', '  ', 'g');
CREATE OR REPLACE MACRO norm_name(s) AS nullif(regexp_replace(trim(regexp_replace(
    _strip_legal(_strip_legal(' ' || regexp_replace(
        lower(replace(replace(coalesce(s, ''), '&', ' and '), '.', '')), '[^a-z0-9]+', ' ', 'g') || ' ')),
    ' +', ' ', 'g')), '( and)+$', ''), '');

-- MAC addresses: 12 upper-case hex digits, separators ignored (as IT Glue does). A field may hold several MACs
-- (ConnectWise) or be cut at 17 characters (IT Glue); the primary is the first complete one.
CREATE OR REPLACE MACRO norm_macs(s) AS list_filter(
    list_transform(
        regexp_extract_all(upper(coalesce(s, '')), '[0-9A-F]{2}(?:[:\-\. ]?[0-9A-F]{2}){5}'),
        lambda m: regexp_replace(m, '[^0-9A-F]', '', 'g')),
    lambda m: m NOT IN ('000000000000', 'FFFFFFFFFFFF'));
CREATE OR REPLACE MACRO norm_mac(s) AS norm_macs(s)[1];
-- A list of MAC fields (one per adapter, as RMMs list them): each one's primary MAC as norm_mac gives it, in order,
-- the fields that hold none dropped; NULL is the empty list.
CREATE OR REPLACE MACRO norm_mac_list(fields) AS
    list_filter(list_transform(coalesce(fields, []), lambda m: norm_mac(m)), lambda m: m IS NOT NULL);

-- Serials: placeholder values that BIOSes and tools write when they know none are the same as no serial.
CREATE OR REPLACE MACRO norm_serial(s) AS CASE
    WHEN s IS NULL THEN NULL
    WHEN upper(trim(regexp_replace(s, '[\s\.]+', ' ', 'g'))) IN (
        'TO BE FILLED BY O E M', 'TO BE FILLED BY OEM', 'DEFAULT STRING', 'SYSTEM SERIAL NUMBER', '0', 'NONE', 'N/A',
        'NA', 'NULL', 'UNKNOWN', 'NOT SPECIFIED', 'NOT APPLICABLE', 'SERIAL', 'CHASSIS SERIAL NUMBER',
        'INVALID', '123456789', '1234567890', 'XXXXXXXX', '-', '')
        THEN NULL
    WHEN regexp_full_match(trim(s), '0+') THEN NULL
    -- more of what tools write when they know none: "TBD", "OEM", "Not Available", one character repeated, a run
    WHEN upper(trim(s)) IN ('TBD', 'TBA', 'OEM', 'NOT AVAILABLE', 'DEFAULT', 'EMPTY', 'NO SERIAL', '0123456789')
        THEN NULL
    WHEN length(trim(s)) >= 4 AND length(replace(upper(trim(s)), upper(left(trim(s), 1)), '')) = 0 THEN NULL
    ELSE nullif(upper(regexp_replace(trim(s), '\s+', ' ', 'g')), '')
END;

-- Hostnames: short and lower-case ("ws-014.contoso.local" = "WS-014").
CREATE OR REPLACE MACRO norm_hostname(s) AS nullif(lower(trim(split_part(trim(coalesce(s, '')), '.', 1))), '');

-- Emails: lower-case; phones: digits only, the last 10 (country prefixes and extensions vary by tool).
CREATE OR REPLACE MACRO norm_email(s) AS nullif(lower(trim(coalesce(s, ''))), '');
CREATE OR REPLACE MACRO phone_digits(s) AS CASE
    WHEN length(regexp_replace(coalesce(s, ''), '[^0-9]', '', 'g')) < 7 THEN NULL
    ELSE right(regexp_replace(s, '[^0-9]', '', 'g'), 10)
END;

-- IP addresses: the first IPv4 in a free-text field ("10.0.0.10, fe80::1" or "10.0.0.10 (LAN)").
CREATE OR REPLACE MACRO first_ipv4(s) AS nullif(regexp_extract(coalesce(s, ''), '\b(?:\d{1,3}\.){3}\d{1,3}\b'), '');

-- Web domains: "https://www.Contoso.com/about" -> "contoso.com"; email domains use the same shape.
CREATE OR REPLACE MACRO norm_domain(s) AS nullif(lower(regexp_replace(
    regexp_replace(trim(coalesce(s, '')), '^([a-zA-Z]+://)?(www\.)?', ''), '[/:?#].*$', '')), '');

-- Configuration types: each system names them its own way ("Managed Server", "WINDOWS_SERVER", "Main System Chassis");
-- the linkage compares the category.
CREATE OR REPLACE MACRO config_category(s) AS CASE
    WHEN s IS NULL THEN 'other'
    WHEN regexp_matches(lower(s), 'laptop|notebook|portable') THEN 'laptop'
    WHEN regexp_matches(lower(s), 'server|esx|hyper-?v|vm host|domain controller') THEN 'server'
    WHEN regexp_matches(lower(s), 'printer|mfp|copier|scanner|plotter') THEN 'printer'
    WHEN regexp_matches(lower(s), 'switch|router|firewall|network|access point|wireless|wifi|gateway|ups|nas|san|modem') THEN 'network'
    WHEN regexp_matches(lower(s), 'phone|mobile|tablet|ipad|iphone|android') THEN 'mobile'
    WHEN regexp_matches(lower(s), 'workstation|desktop|pc|computer|mac|windows|linux|chassis|agent') THEN 'workstation'
    ELSE 'other'
END;

-- Names of people: lower-case letters and digits only ("O'Brien" = "OBrien" = "obrien").
CREATE OR REPLACE MACRO norm_person(s) AS nullif(regexp_replace(lower(coalesce(s, '')), '[^a-z0-9]', '', 'g'), '');
