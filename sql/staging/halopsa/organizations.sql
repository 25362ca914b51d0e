-- HaloPSA clients. A client carries no phone or web address of its own: its first site's phone and e-mail domain
-- stand in. Inactive clients are listed (an IT Glue copy of one is not an orphan), marked is_active = FALSE.
-- `rmm_org_keys`: the RMM organizations Halo's RMM integrations mapped the client to, as the RMM's staging names them
-- (`<source>:<source_id>`): `datto_id` on the client or any of its sites is a Datto RMM site uid, `ninjarmmid` a
-- NinjaOne organization id. Certain links, as Datto's autotaskCompanyId is from the other side.
WITH main_site AS (
    SELECT client_id, arg_min(phonenumber, CAST(id AS BIGINT)) AS phonenumber,
           arg_min(emaildomain, CAST(id AS BIGINT)) AS emaildomain,
           list(DISTINCT datto_id) FILTER (WHERE datto_id IS NOT NULL) AS datto_ids
    FROM raw.halopsa_sites
    GROUP BY client_id
)
SELECT
    'halopsa' AS source,
    c.id AS source_id,
    c.name,
    norm_name(c.name) AS name_norm,
    coalesce(norm_domain(c.website), norm_domain(s.emaildomain)) AS domain,
    coalesce(phone_digits(c.phonenumber), phone_digits(s.phonenumber)) AS phone_digits,
    CAST(NULL AS VARCHAR) AS city,
    CAST(NULL AS VARCHAR) AS psa_integration,
    NOT coalesce(c.inactive, FALSE) AS is_active,
    CAST(NULL AS VARCHAR) AS psa_company_id,
    nullif(list_distinct(list_concat(
        list_transform(list_filter([c.datto_id] || coalesce(s.datto_ids, []), lambda x: x IS NOT NULL),
                       lambda x: 'datto_rmm:' || x),
        list_transform(list_filter([c.ninjarmmid], lambda x: x IS NOT NULL), lambda x: 'ninjaone:' || x))), [])
        AS rmm_org_keys,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(c.datecreated AS TIMESTAMPTZ) AS created_at,
    CAST(NULL AS TIMESTAMPTZ) AS updated_at,
    CAST(c.extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.halopsa_clients AS c
LEFT JOIN main_site AS s ON s.client_id = c.id
