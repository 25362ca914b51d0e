-- Model input for organizations. Names alone are weak evidence, so each organization also carries what it contains:
-- the device and person identifiers ("anchors") of its configurations and contacts. Two organizations whose
-- children share anchors are one client; two that share none, however alike their names, are two.
-- Reads stg_organizations, stg_configurations, stg_contacts, source_roles; {max_orgs_per_anchor} and
-- {max_first_token_block} are integers.

-- Each configuration once with what both anchor tables below read of it: its organization, its own id and `label`,
-- which thing of its system it is (a device's hostname): copies of one device share it, VM clones sharing a BIOS
-- serial do not. Computed once here, not once per identifier (a regexp over a million records, three times).
CREATE OR REPLACE TEMP TABLE org_child_device AS
SELECT c.source || ':' || c.organization_source_id AS org_uid, c.source || ':' || c.source_id AS child_uid,
       c.source AS child_source, c.serial_norm, c.mac_norm, c.rmm_device_id,
       coalesce(c.hostname_norm, c.name_norm) AS host,
       regexp_replace(lower(coalesce(c.hostname_norm, c.name_norm, c.source_id)), '[^a-z0-9]', '', 'g') AS label,
       coalesce(c.is_deleted, FALSE) AS is_deleted,
       CASE WHEN r.role = 'rmm' THEN c.source || ':' || c.source_id
            WHEN c.rmm_source IS NOT NULL AND c.rmm_device_id IS NOT NULL THEN c.rmm_source || ':' || c.rmm_device_id
       END AS rmm_record_key
FROM stg_configurations c LEFT JOIN source_roles r USING (source)
WHERE c.organization_source_id IS NOT NULL;

CREATE OR REPLACE TEMP TABLE org_child_anchor AS
WITH keyed AS (
    -- one row per (organization, child, identifier); a plain UNION ALL per identifier column, no lists to unnest.
    -- Already distinct: a record is staged once per source and each branch carries its own anchor prefix
    SELECT org_uid, child_uid, child_source, 's:' || serial_norm AS anchor, label
    FROM org_child_device WHERE serial_norm IS NOT NULL
    UNION ALL
    SELECT org_uid, child_uid, child_source, 'm:' || mac_norm, label FROM org_child_device WHERE mac_norm IS NOT NULL
    UNION ALL
    SELECT org_uid, child_uid, child_source, 'r:' || rmm_device_id, label
    FROM org_child_device WHERE rmm_device_id IS NOT NULL
    UNION ALL
    -- a person, not a mailbox: franchise branches share a domain and mailboxes like maria@ or info@ that
    -- different people answer, so an address counts only together with the name of the person it belongs to
    SELECT source || ':' || organization_source_id, 'contact:' || source || ':' || source_id, 'contact:' || source,
           'e:' || email_norm || '|' || coalesce(last_name_norm, ''), coalesce(first_name_norm, source_id)
    FROM stg_contacts WHERE organization_source_id IS NOT NULL AND email_norm IS NOT NULL
), per_system AS (
    SELECT anchor, child_source, count(*) AS n_children, count(DISTINCT label) AS n_labels,
           count(DISTINCT org_uid) AS n_orgs
    FROM keyed GROUP BY ALL
), usable AS (
    -- An anchor found under many organizations (a VPN adapter's MAC, a shared helpdesk mailbox) identifies none;
    -- nor does one that several differently named records of one system carry (a VM-clone serial): a real device
    -- is in a system under one or two names (reimaged), however often it was imported (a CSV imported twice makes
    -- three copies of one device in IT Glue, all with its hostname).
    -- (An organization id carries its system, so organizations per system add up to organizations.)
    -- A serial on two machines of one system is a junk value ("TBD") or a clone's, whatever staging knew of it.
    SELECT anchor FROM per_system GROUP BY anchor
    HAVING sum(n_orgs) <= {max_orgs_per_anchor} AND max(n_children) <= 4
       AND max(n_labels) <= CASE WHEN starts_with(anchor, 's:') THEN 1 ELSE 2 END
)
SELECT org_uid, child_uid, anchor FROM keyed SEMI JOIN usable USING (anchor);

CREATE OR REPLACE TEMP TABLE org_shared_children AS
WITH pairs AS (
    SELECT a.org_uid AS uid_a, b.org_uid AS uid_b,
           -- children, not anchors: a device matched on serial and MAC is one shared device
           least(count(DISTINCT a.child_uid), count(DISTINCT b.child_uid)) AS n_shared
    FROM org_child_anchor a JOIN org_child_anchor b ON a.anchor = b.anchor AND a.org_uid <> b.org_uid
    GROUP BY ALL
)
SELECT uid_a AS org_uid,
       map_from_entries(list(struct_pack(k := uid_b, v := n_shared::INTEGER))) AS shared_children,
       list(CASE WHEN uid_a < uid_b THEN uid_a || '|' || uid_b ELSE uid_b || '|' || uid_a END) AS shared_pair_keys
FROM pairs GROUP BY uid_a;

-- The strong identities organizations hold: a device by MAC and hostname, or by a serial no clone shares and
-- hostname, or by the RMM uid a record names; a person by address and surname. Two organizations most of whose
-- identified devices and people are the same ones are one client, whatever their names say (a renamed client, an RMM
-- site called after an office). Anchors held by many organizations, or by more than four records of one system (each
-- anchor names a hostname, so clones do not share one), say nothing.
CREATE OR REPLACE TEMP TABLE org_one_client AS
WITH keyed AS (
    -- already distinct, as above
    SELECT org_uid, child_uid, child_source, 'mh:' || mac_norm || '|' || host AS anchor
    FROM org_child_device WHERE mac_norm IS NOT NULL AND host IS NOT NULL AND NOT is_deleted
    UNION ALL
    SELECT org_uid, child_uid, child_source, 'sh:' || serial_norm || '|' || host
    FROM org_child_device WHERE serial_norm IS NOT NULL AND host IS NOT NULL AND NOT is_deleted
    UNION ALL
    SELECT org_uid, child_uid, child_source, 'r:' || rmm_device_id
    FROM org_child_device WHERE rmm_device_id IS NOT NULL AND NOT is_deleted
    UNION ALL
    -- the RMM record itself: its own id in its RMM, or the id an IT Glue copy's rmm-records name
    SELECT org_uid, child_uid, child_source, 'k:' || rmm_record_key
    FROM org_child_device WHERE rmm_record_key IS NOT NULL AND NOT is_deleted
    UNION ALL
    SELECT source || ':' || organization_source_id, 'contact:' || source || ':' || source_id, 'contact:' || source,
           'e:' || email_norm || '|' || last_name_norm
    FROM stg_contacts
    WHERE organization_source_id IS NOT NULL AND email_norm IS NOT NULL AND last_name_norm IS NOT NULL
), usable AS (
    SELECT anchor FROM (SELECT anchor, child_source, count(*) AS n_children, count(DISTINCT org_uid) AS n_orgs
                        FROM keyed GROUP BY ALL)
    GROUP BY anchor HAVING sum(n_orgs) <= {max_orgs_per_anchor} AND max(n_children) <= 4
), anchored AS (
    SELECT org_uid, child_uid, anchor FROM keyed SEMI JOIN usable USING (anchor)
), held AS (
    SELECT org_uid, count(DISTINCT child_uid) AS n_held FROM anchored GROUP BY 1
), shared AS (
    SELECT a.org_uid AS uid_a, b.org_uid AS uid_b,
           least(count(DISTINCT a.child_uid), count(DISTINCT b.child_uid)) AS n_shared
    FROM anchored a JOIN anchored b ON a.anchor = b.anchor AND a.org_uid < b.org_uid
    GROUP BY ALL
)
-- two or more shared, and at least half of what the smaller of the two holds: one device that moved between two
-- clients, or a technician's laptop seen at both, is not enough
SELECT s.uid_a, s.uid_b, s.n_shared
FROM shared s JOIN held ha ON ha.org_uid = s.uid_a JOIN held hb ON hb.org_uid = s.uid_b
WHERE s.n_shared >= 2 AND s.n_shared * 2 >= least(ha.n_held, hb.n_held);

-- The domain an organization's people write from, for an organization whose system holds no domain (IT Glue's,
-- NinjaOne's): most of its people with an address, two at least, on one domain, or its one person's (a hand-made
-- copy holding one contact at the client's domain). A domain the people of many
-- organizations write from is a mail provider's (gmail.com), not a client's.
CREATE OR REPLACE TEMP TABLE org_mail_domain AS
WITH mail AS (
    SELECT source || ':' || organization_source_id AS org_uid, nullif(split_part(email_norm, '@', 2), '') AS domain
    FROM stg_contacts WHERE organization_source_id IS NOT NULL AND email_norm IS NOT NULL
), per_org AS (
    SELECT org_uid, domain, count(*) AS n, sum(count(*)) OVER (PARTITION BY org_uid) AS n_with_address
    FROM mail WHERE domain IS NOT NULL GROUP BY org_uid, domain
), clients AS (
    SELECT domain FROM per_org GROUP BY domain HAVING count(DISTINCT org_uid) <= {max_orgs_per_anchor}
)
SELECT org_uid, arg_max(domain, n) AS domain
FROM per_org SEMI JOIN clients USING (domain)
WHERE (n >= 2 OR n = n_with_address) AND n * 2 > n_with_address
GROUP BY org_uid;

CREATE OR REPLACE TEMP TABLE org_input AS
SELECT o.source || ':' || o.source_id AS unique_id,
       o.source, o.source_id,
       o.name_norm,
       -- the name without what RMM sites and people add or shorten: site words ("- Main Office", "HQ"), "the",
       -- "group", and common abbreviations written out ("Intl", "Int'l", "Svcs", "Mfg"); branch words stay
       -- ("Acme Dental - North" is not "- South")
       nullif(array_to_string(list_filter(list_transform(
           string_split(regexp_replace(coalesce(o.name_norm, ''), '\bint l\b', 'international', 'g'), ' '),
           lambda t: CASE t WHEN 'intl' THEN 'international' WHEN 'assoc' THEN 'associates'
                            WHEN 'mfg' THEN 'manufacturing' WHEN 'bros' THEN 'brothers' WHEN 'svcs' THEN 'services'
                            WHEN 'svc' THEN 'services' WHEN 'mtn' THEN 'mountain' WHEN 'mt' THEN 'mount'
                            WHEN 'st' THEN 'saint' WHEN 'ste' THEN 'sainte' WHEN 'fam' THEN 'family'
                            WHEN 'mgmt' THEN 'management' WHEN 'mgt' THEN 'management'
                            WHEN 'constr' THEN 'construction' WHEN 'eng' THEN 'engineering'
                            WHEN 'engg' THEN 'engineering' WHEN 'acctg' THEN 'accounting'
                            WHEN 'props' THEN 'properties' WHEN 'dept' THEN 'department' WHEN 'ctr' THEN 'center'
                            WHEN 'centre' THEN 'center' WHEN 'tech' THEN 'technologies' WHEN 'sys' THEN 'systems'
                            WHEN 'natl' THEN 'national' WHEN 'n' THEN 'north' WHEN 's' THEN 'south'
                            WHEN 'e' THEN 'east' WHEN 'w' THEN 'west' ELSE t END),
           lambda t: t NOT IN ('', 'the', 'and', 'group', 'main', 'office', 'hq', 'headquarters', 'pllc', 'pa',
                               'lc', 'pllp', 'ltda', 'sarl', 'srl', 'oy', 'ab', 'as', 'nv', 'kg')), ' '), '')
           AS name_core,
       -- a franchise branch: "Acme Dental - North" is the brand "acme dental" and the branch "north" (the words
       -- after the last " - ", or in trailing parentheses, when the normalised name ends with them); an office or
       -- headquarters word is a site of the one client, not a branch ("Contoso - Main Office")
       b.name_brand,
       CASE WHEN b.name_brand IS NOT NULL AND len(list_filter(string_split(b.branch_full, ' '),
                lambda t: t NOT IN ('', 'main', 'office', 'hq', 'headquarters', 'head', 'site', 'the'))) > 0
            THEN b.branch_full END AS name_branch,
       -- blocks "contoso main office" with "contoso"; a first word hundreds of organizations start with ("the",
       -- "first", a franchise brand) would make its block quadratic and narrows nothing, so it blocks nothing
       CASE WHEN count(*) OVER (PARTITION BY nullif(split_part(o.name_norm, ' ', 1), '')) <= {max_first_token_block}
            THEN nullif(split_part(o.name_norm, ' ', 1), '') END AS name_first_token,
       coalesce(o.domain, md.domain) AS domain,
       o.domain AS declared_domain,  -- the system's own (a PSA's), not its people's
       o.phone_digits,
       nullif(lower(trim(o.city)), '') AS city,
       -- certain links: a PSA company is its own key; an RMM site names the PSA company it is linked to, or a PSA
       -- company names the RMM site (HaloPSA's datto_id)
       CASE WHEN r.role = 'psa' THEN o.source || ':' || o.source_id
            WHEN o.psa_company_id IS NOT NULL AND r.psa_link_target IS NOT NULL
                THEN r.psa_link_target || ':' || o.psa_company_id
            ELSE named.psa_key END AS psa_company_key,
       -- NULL (no evidence) for an organization without identifiable children; an empty map is "shares nothing"
       CASE WHEN n.org_uid IS NULL THEN NULL::MAP(VARCHAR, INTEGER)
            ELSE coalesce(s.shared_children, MAP {}::MAP(VARCHAR, INTEGER)) END AS shared_children,
       coalesce(s.shared_pair_keys, []::VARCHAR[]) AS shared_pair_keys,
       -- by kind: an RMM holds devices and no people, so an IT Glue copy's people can never be shared with it
       coalesce(n.n_devices, 0) AS n_anchored_devices,
       coalesce(n.n_people, 0) AS n_anchored_people,
       -- one key per organization it is certainly one client with (both sides carry it)
       coalesce(oc.keys, []::VARCHAR[]) AS one_client_keys
FROM stg_organizations o
LEFT JOIN source_roles r USING (source)
LEFT JOIN (SELECT rmm_key, min(psa_key) AS psa_key FROM (
               SELECT unnest(p.rmm_org_keys) AS rmm_key, p.source || ':' || p.source_id AS psa_key
               FROM stg_organizations p JOIN source_roles pr USING (source)
               WHERE pr.role = 'psa' AND p.rmm_org_keys IS NOT NULL)
           GROUP BY rmm_key) named ON named.rmm_key = o.source || ':' || o.source_id
LEFT JOIN (
    SELECT source, source_id, branch_full,
           CASE WHEN branch_full <> '' AND ends_with(name_norm, ' ' || branch_full)
                THEN nullif(trim(left(name_norm, length(name_norm) - length(branch_full) - 1)), '') END AS name_brand
    FROM (SELECT source, source_id, name_norm,
                 trim(regexp_replace(lower(replace(replace(coalesce(
                     nullif(regexp_extract(name, '\s[-–—]\s+([^-–—]+)$', 1), ''),
                     nullif(regexp_extract(name, '\(([^()]+)\)\s*$', 1), ''), ''), '&', ' and '), '.', '')),
                     '[^a-z0-9]+', ' ', 'g')) AS branch_full
          FROM stg_organizations)) b USING (source, source_id)
LEFT JOIN (SELECT org_uid, count(DISTINCT child_uid) FILTER (NOT starts_with(child_uid, 'contact:')) AS n_devices,
                  count(DISTINCT child_uid) FILTER (starts_with(child_uid, 'contact:')) AS n_people
           FROM org_child_anchor GROUP BY 1) n ON n.org_uid = o.source || ':' || o.source_id
LEFT JOIN org_shared_children s ON s.org_uid = o.source || ':' || o.source_id
LEFT JOIN org_mail_domain md ON md.org_uid = o.source || ':' || o.source_id
LEFT JOIN (SELECT uid, list(pair_key) AS keys FROM (
               SELECT uid_a AS uid, uid_a || '|' || uid_b AS pair_key FROM org_one_client
               UNION ALL SELECT uid_b, uid_a || '|' || uid_b FROM org_one_client) GROUP BY uid) oc
       ON oc.uid = o.source || ':' || o.source_id;
