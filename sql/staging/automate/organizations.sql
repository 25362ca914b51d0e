-- ConnectWise Automate clients (its locations are a client's offices).
SELECT
    'automate' AS source,
    id AS source_id,
    name,
    norm_name(name) AS name_norm,
    norm_domain(website) AS domain,
    phone_digits(phone) AS phone_digits,
    city,
    CAST(NULL AS VARCHAR) AS psa_integration,
    TRUE AS is_active,
    CAST(NULL AS VARCHAR) AS psa_company_id,
    CAST(NULL AS VARCHAR[]) AS rmm_org_keys,  -- only HaloPSA names its clients' RMM organizations
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(date_added AS TIMESTAMPTZ) AS created_at,
    CAST(NULL AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.automate_clients
