-- HaloPSA assets. `key_field` is the asset's name (usually the hostname); serial and MAC come from the asset's
-- fields list. `rmm_device_id` is the device id in whichever RMM Halo links the asset to (datto_id, ninjarmm_id,
-- ncentral_details_id, automate_id): the same value the RMM's own staging gives its device.
SELECT
    'halopsa' AS source,
    id AS source_id,
    client_id AS organization_source_id,
    coalesce(key_field, inventory_number) AS name,
    norm_hostname(coalesce(key_field, inventory_number)) AS name_norm,
    norm_hostname(key_field) AS hostname_norm,
    norm_serial(coalesce(serial_number, key_field2)) AS serial_norm,
    norm_mac(mac_address) AS mac_norm,
    norm_macs(mac_address) AS macs,
    first_ipv4(ip_address) AS ip,
    config_category(assettype_name) AS config_type,
    CAST(NULL AS VARCHAR) AS manufacturer,
    CAST(NULL AS VARCHAR) AS model,
    CAST(NULL AS VARCHAR) AS os,
    CAST(NULL AS VARCHAR) AS psa_integration,
    FALSE AS has_rmm_record,
    rmm_device_id,
    NOT coalesce(inactive, FALSE) AS is_active,
    FALSE AS is_deleted,
    FALSE AS archived,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    CAST(dlastupdate AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.halopsa_assets
