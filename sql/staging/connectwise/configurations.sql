-- ConnectWise configurations. ConnectWise has no hostname field: the configuration name stands in for it.
-- `deviceIdentifier` is the RMM's device id when an RMM integration created or synced the configuration.
SELECT
    'connectwise' AS source,
    id AS source_id,
    company_id AS organization_source_id,
    name,
    norm_hostname(name) AS name_norm,
    norm_hostname(name) AS hostname_norm,
    norm_serial(serial_number) AS serial_norm,
    norm_mac(mac_address) AS mac_norm,
    norm_macs(mac_address) AS macs,
    -- the field is free text and may list several addresses: the first IPv4 counts
    first_ipv4(ip_address) AS ip,
    config_category(coalesce(type_name, os_type)) AS config_type,
    manufacturer_name AS manufacturer,
    model_number AS model,
    os_type AS os,
    CAST(NULL AS VARCHAR) AS psa_integration,
    FALSE AS has_rmm_record,
    nullif(trim(device_identifier), '') AS rmm_device_id,
    CAST(NULL AS VARCHAR) AS rmm_source,  -- only IT Glue names the RMM a record came from
    coalesce(active_flag, TRUE) AS is_active,
    FALSE AS is_deleted,
    FALSE AS archived,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(date_entered AS TIMESTAMPTZ) AS created_at,
    CAST(last_updated AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.connectwise_configurations
