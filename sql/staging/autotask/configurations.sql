-- Autotask configuration items. Identity fields come from the RMM audit when an RMM (Datto) created the item;
-- a hand-made item has only its reference title and serial. `rmmDeviceUID` links the item to its RMM device.
SELECT
    'autotask' AS source,
    id AS source_id,
    company_id AS organization_source_id,
    reference_title AS name,
    norm_hostname(reference_title) AS name_norm,
    coalesce(norm_hostname(rmm_device_audit_hostname), norm_hostname(reference_title)) AS hostname_norm,
    norm_serial(serial_number) AS serial_norm,
    norm_mac(rmm_device_audit_mac_address) AS mac_norm,
    norm_macs(rmm_device_audit_mac_address) AS macs,
    first_ipv4(rmm_device_audit_ip_address) AS ip,
    -- the category is the tenant's own picklist name; without one the operating system still tells servers apart
    config_category(coalesce(configuration_item_category_name, rmm_device_audit_operating_system)) AS config_type,
    CAST(NULL AS VARCHAR) AS manufacturer,
    CAST(NULL AS VARCHAR) AS model,
    rmm_device_audit_operating_system AS os,
    CAST(NULL AS VARCHAR) AS psa_integration,
    FALSE AS has_rmm_record,
    nullif(trim(rmm_device_uid), '') AS rmm_device_id,
    CAST(NULL AS VARCHAR) AS rmm_source,  -- only IT Glue names the RMM a record came from
    coalesce(is_active, TRUE) AS is_active,
    FALSE AS is_deleted,
    FALSE AS archived,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(create_date AS TIMESTAMPTZ) AS created_at,
    CAST(last_modified_time AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.autotask_configuration_items
