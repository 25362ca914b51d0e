-- N-central customers (the level under the service organization that stands for a client; its sites are offices).
SELECT
    'ncentral' AS source,
    customer_id AS source_id,
    customer_name AS name,
    norm_name(customer_name) AS name_norm,
    CAST(NULL AS VARCHAR) AS domain,
    phone_digits(phone) AS phone_digits,
    city,
    CAST(NULL AS VARCHAR) AS psa_integration,
    TRUE AS is_active,
    CAST(NULL AS VARCHAR) AS psa_company_id,
    CAST(NULL AS VARCHAR[]) AS rmm_org_keys,  -- only HaloPSA names its clients' RMM organizations
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    CAST(NULL AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.ncentral_customers
