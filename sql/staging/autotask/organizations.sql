-- Autotask companies. Deleted companies disappear from the API, so every row is a live one.
SELECT
    'autotask' AS source,
    id AS source_id,
    company_name AS name,
    norm_name(company_name) AS name_norm,
    norm_domain(web_address) AS domain,
    phone_digits(phone) AS phone_digits,
    city,
    CAST(NULL AS VARCHAR) AS psa_integration,
    coalesce(is_active, TRUE) AS is_active,
    CAST(NULL AS VARCHAR) AS psa_company_id,
    CAST(NULL AS VARCHAR[]) AS rmm_org_keys,  -- only HaloPSA names its clients' RMM organizations
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(create_date AS TIMESTAMPTZ) AS created_at,
    CAST(coalesce(last_tracked_modified_date_time, last_activity_date) AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.autotask_companies
