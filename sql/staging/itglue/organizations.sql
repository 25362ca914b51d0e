SELECT
    'itglue' AS source,
    id AS source_id,
    name,
    norm_name(name) AS name_norm,
    CAST(NULL AS VARCHAR) AS domain,  -- IT Glue organizations carry no website or phone
    CAST(NULL AS VARCHAR) AS phone_digits,
    CAST(NULL AS VARCHAR) AS city,
    psa_integration,
    coalesce(organization_status_name, 'Active') <> 'Inactive' AS is_active,
    CAST(NULL AS VARCHAR) AS psa_company_id,
    CAST(NULL AS VARCHAR[]) AS rmm_org_keys,  -- only HaloPSA names its clients' RMM organizations
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(created_at AS TIMESTAMPTZ) AS created_at,
    CAST(updated_at AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.itglue_organizations
