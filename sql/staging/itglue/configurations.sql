SELECT
    'itglue' AS source,
    id AS source_id,
    organization_id AS organization_source_id,
    name,
    norm_hostname(name) AS name_norm,
    coalesce(norm_hostname(hostname), norm_hostname(rmm_hostname), norm_hostname(name)) AS hostname_norm,
    -- a sync that blanks a field leaves the RMM record's value as the only evidence
    coalesce(norm_serial(serial_number), norm_serial(rmm_serial_number)) AS serial_norm,
    coalesce(norm_mac(mac_address), norm_mac(rmm_mac_addresses)) AS mac_norm,
    list_distinct(list_concat(norm_macs(mac_address), norm_macs(rmm_mac_addresses))) AS macs,
    primary_ip AS ip,
    config_category(coalesce(configuration_type_kind, configuration_type_name)) AS config_type,
    manufacturer_name AS manufacturer,
    model_name AS model,
    operating_system_name AS os,
    psa_integration,
    rmm_record_count > 0 AS has_rmm_record,
    rmm_device_id,
    -- which RMM the attached record came from (IT Glue's rmm-integration-type): an id is only proven gone by a
    -- complete extraction of that RMM
    CASE rmm_integration_type WHEN 'aem' THEN 'datto_rmm' WHEN 'ninja-rmm' THEN 'ninjaone'
                              WHEN 'msp-n-central' THEN 'ncentral' WHEN 'automate' THEN 'automate' END AS rmm_source,
    coalesce(configuration_status_name, 'Active') <> 'Inactive' AS is_active,
    FALSE AS is_deleted,
    coalesce(archived, FALSE) AS archived,
    resource_url,
    CAST(created_at AS TIMESTAMPTZ) AS created_at,
    CAST(updated_at AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.itglue_configurations
