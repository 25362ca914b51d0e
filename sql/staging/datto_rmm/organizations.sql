-- Datto RMM sites are the MSP's clients. The "Deleted Devices" site is where Datto parks deleted devices, not a client.
SELECT
    'datto_rmm' AS source,
    uid AS source_id,
    name,
    norm_name(name) AS name_norm,
    CAST(NULL AS VARCHAR) AS domain,  -- sites carry no website, phone or address
    CAST(NULL AS VARCHAR) AS phone_digits,
    CAST(NULL AS VARCHAR) AS city,
    CAST(NULL AS VARCHAR) AS psa_integration,
    TRUE AS is_active,
    nullif(trim(autotask_company_id), '') AS psa_company_id,
    CAST(NULL AS VARCHAR[]) AS rmm_org_keys,  -- only HaloPSA names its clients' RMM organizations
    portal_url AS resource_url,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    CAST(NULL AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.datto_rmm_sites
WHERE NOT coalesce(is_deleted_devices_site, FALSE)
