-- ConnectWise companies (deleted ones are not extracted: the API is asked for deletedFlag=false).
SELECT
    'connectwise' AS source,
    id AS source_id,
    name,
    norm_name(name) AS name_norm,
    norm_domain(website) AS domain,
    phone_digits(phone_number) AS phone_digits,
    city,
    CAST(NULL AS VARCHAR) AS psa_integration,
    -- statuses are the MSP's own list ("Active", "Inactive", "Not-Approved", ...): only an inactive one counts
    NOT coalesce(regexp_matches(lower(status_name), 'inactive|not.?approved'), FALSE)
        AND NOT coalesce(deleted_flag, FALSE) AS is_active,
    CAST(NULL AS VARCHAR) AS psa_company_id,
    CAST(NULL AS VARCHAR[]) AS rmm_org_keys,  -- only HaloPSA names its clients' RMM organizations
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(date_entered AS TIMESTAMPTZ) AS created_at,
    CAST(last_updated AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.connectwise_companies
