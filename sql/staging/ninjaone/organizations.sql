SELECT
    'ninjaone' AS source,
    CAST(id AS VARCHAR) AS source_id,
    name,
    norm_name(name) AS name_norm,
    CAST(NULL AS VARCHAR) AS domain,  -- organizations carry no website, phone or city (locations hold addresses)
    CAST(NULL AS VARCHAR) AS phone_digits,
    CAST(NULL AS VARCHAR) AS city,
    CAST(NULL AS VARCHAR) AS psa_integration,
    TRUE AS is_active,
    CAST(NULL AS VARCHAR) AS psa_company_id,
    CAST(NULL AS VARCHAR[]) AS rmm_org_keys,  -- only HaloPSA names its clients' RMM organizations
    CAST(NULL AS VARCHAR) AS resource_url,  -- the UI link needs the instance host, which raw rows do not carry
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    CAST(NULL AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.ninjaone_organizations
