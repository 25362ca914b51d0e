-- N-central devices with their assets (serial, MACs, IPs from /api/devices/{id}/assets). The device id is what IT
-- Glue's msp-n-central RMM records carry as their device id.
WITH device_macs AS (
    SELECT
        d.*,
        a.serial_number,
        a.manufacturer,
        a.model,
        a.os_name,
        a.ip_addresses,
        norm_mac_list(a.macs) AS all_macs
    FROM raw.ncentral_devices AS d
    LEFT JOIN raw.ncentral_device_assets AS a USING (device_id)
)
SELECT
    'ncentral' AS source,
    device_id AS source_id,
    customer_id AS organization_source_id,
    long_name AS name,
    norm_hostname(long_name) AS name_norm,
    norm_hostname(coalesce(discovered_name, long_name)) AS hostname_norm,
    norm_serial(serial_number) AS serial_norm,
    all_macs[1] AS mac_norm,
    list_distinct(all_macs) AS macs,
    first_ipv4(array_to_string(ip_addresses, ' ')) AS ip,
    config_category(concat_ws(' ', device_class, supported_os)) AS config_type,
    manufacturer,
    model,
    coalesce(os_name, supported_os) AS os,
    CAST(NULL AS VARCHAR) AS psa_integration,
    FALSE AS has_rmm_record,
    device_id AS rmm_device_id,
    CAST(NULL AS VARCHAR) AS rmm_source,
    TRUE AS is_active,
    FALSE AS is_deleted,
    FALSE AS archived,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    CAST(last_appliance_checkin_time AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM device_macs
