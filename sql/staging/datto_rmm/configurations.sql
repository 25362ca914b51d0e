-- Datto RMM devices. The device list carries no serial and no MAC: the serial comes from the device audit, the MACs
-- from the audit's nics and the site's network-interface listing (audit first: it names the primary adapter first).
WITH device_macs AS (
    SELECT
        d.*,
        a.serial_number,
        a.manufacturer,
        a.model,
        norm_mac_list(list_concat(coalesce(a.macs, []), coalesce(d.nic_macs, []))) AS all_macs
    FROM raw.datto_rmm_devices AS d
    LEFT JOIN raw.datto_rmm_device_audits AS a ON a.device_uid = d.uid AND a.status = 200
)
SELECT
    'datto_rmm' AS source,
    uid AS source_id,
    -- a deleted device sits in the "Deleted Devices" site, which is no client: its owner is no longer known
    CASE WHEN is_deleted THEN NULL ELSE site_uid END AS organization_source_id,
    hostname AS name,
    norm_hostname(hostname) AS name_norm,
    norm_hostname(hostname) AS hostname_norm,
    norm_serial(serial_number) AS serial_norm,
    all_macs[1] AS mac_norm,
    list_filter(all_macs, lambda m, i: list_position(all_macs, m) = i) AS macs,  -- distinct, order kept
    nullif(trim(int_ip_address), '') AS ip,
    CASE WHEN config_category(device_category) <> 'other' THEN config_category(device_category)
         ELSE config_category(concat_ws(' ', device_type, nullif(device_class, 'device'))) END AS config_type,
    manufacturer,
    model,
    operating_system AS os,
    CAST(NULL AS VARCHAR) AS psa_integration,
    FALSE AS has_rmm_record,
    uid AS rmm_device_id,
    CAST(NULL AS VARCHAR) AS rmm_source,  -- only IT Glue names the RMM a record came from
    NOT coalesce(suspended, FALSE) AND NOT coalesce(is_deleted, FALSE) AS is_active,
    coalesce(is_deleted, FALSE) AS is_deleted,
    FALSE AS archived,
    portal_url AS resource_url,
    CAST(creation_date AS TIMESTAMPTZ) AS created_at,
    CAST(last_audit_date AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM device_macs
