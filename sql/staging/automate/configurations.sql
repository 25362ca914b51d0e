-- ConnectWise Automate computers: serial and MAC are on the computer itself. The computer id is what IT Glue's
-- automate RMM records carry as their device id.
SELECT
    'automate' AS source,
    id AS source_id,
    client_id AS organization_source_id,
    computer_name AS name,
    norm_hostname(computer_name) AS name_norm,
    norm_hostname(computer_name) AS hostname_norm,
    norm_serial(serial_number) AS serial_norm,
    norm_mac(mac_address) AS mac_norm,
    norm_macs(mac_address) AS macs,
    first_ipv4(local_ip_address) AS ip,
    config_category(concat_ws(' ', type, operating_system_name)) AS config_type,
    CAST(NULL AS VARCHAR) AS manufacturer,
    CAST(NULL AS VARCHAR) AS model,
    operating_system_name AS os,
    CAST(NULL AS VARCHAR) AS psa_integration,
    FALSE AS has_rmm_record,
    id AS rmm_device_id,
    CAST(NULL AS VARCHAR) AS rmm_source,
    TRUE AS is_active,
    FALSE AS is_deleted,
    FALSE AS archived,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(date_added AS TIMESTAMPTZ) AS created_at,
    CAST(last_contact AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.automate_computers
