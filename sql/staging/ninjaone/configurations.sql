-- NinjaOne devices; serial, make and chassis from the computer-systems report (its latest row per device).
WITH systems AS (
    SELECT *
    FROM raw.ninjaone_computer_systems
    QUALIFY row_number() OVER (PARTITION BY device_id ORDER BY timestamp DESC NULLS LAST) = 1
),
devices AS (
    SELECT
        d.*,
        s.serial_number,
        s.bios_serial_number,
        s.manufacturer,
        s.model,
        s.chassis_type,
        norm_mac_list(d.mac_addresses) AS all_macs
    FROM raw.ninjaone_devices AS d
    LEFT JOIN systems AS s ON s.device_id = d.id
)
SELECT
    'ninjaone' AS source,
    CAST(id AS VARCHAR) AS source_id,
    CAST(organization_id AS VARCHAR) AS organization_source_id,
    coalesce(display_name, system_name) AS name,
    norm_hostname(coalesce(display_name, system_name)) AS name_norm,
    norm_hostname(coalesce(system_name, dns_name, netbios_name, display_name)) AS hostname_norm,
    -- the BIOS serial is what Datto and the PSAs record; the system serial stands in when the BIOS has a placeholder
    coalesce(norm_serial(bios_serial_number), norm_serial(serial_number)) AS serial_norm,
    all_macs[1] AS mac_norm,
    list_filter(all_macs, lambda m, i: list_position(all_macs, m) = i) AS macs,
    list_filter(ip_addresses, lambda a: regexp_full_match(a, '\d{1,3}(\.\d{1,3}){3}'))[1] AS ip,
    CASE
        WHEN node_class IN ('WINDOWS_WORKSTATION', 'LINUX_WORKSTATION', 'MAC') THEN
            CASE WHEN regexp_matches(lower(coalesce(chassis_type, '')), 'notebook|laptop|portable|convertible|detachable')
                 THEN 'laptop' ELSE 'workstation' END
        WHEN node_class IN ('WINDOWS_SERVER', 'LINUX_SERVER', 'MAC_SERVER', 'VMWARE_VM_HOST', 'HYPERV_VMM_HOST',
                            'VMWARE_VM_GUEST', 'HYPERV_VMM_GUEST', 'NMS_SERVER', 'NMS_VM_HOST', 'NMS_VIRTUAL_MACHINE')
            THEN 'server'
        WHEN node_class IN ('NMS_SWITCH', 'NMS_ROUTER', 'NMS_FIREWALL', 'NMS_PRIVATE_NETWORK_GATEWAY', 'NMS_WAP',
                            'NMS_IPSLA', 'NMS_APPLIANCE', 'NMS_DIAL_MANAGER', 'NMS_NETWORK_MANAGEMENT_AGENT')
            THEN 'network'
        WHEN node_class IN ('NMS_PRINTER', 'NMS_SCANNER') THEN 'printer'
        WHEN node_class IN ('ANDROID', 'APPLE_IOS', 'APPLE_IPADOS', 'NMS_PHONE') THEN 'mobile'
        WHEN node_class = 'NMS_COMPUTER' THEN 'workstation'
        ELSE config_category(node_class)
    END AS config_type,
    manufacturer,
    model,
    os_name AS os,
    CAST(NULL AS VARCHAR) AS psa_integration,
    FALSE AS has_rmm_record,
    uid AS rmm_device_id,
    CAST(NULL AS VARCHAR) AS rmm_source,  -- only IT Glue names the RMM a record came from
    TRUE AS is_active,  -- NinjaOne has no active flag
    FALSE AS is_deleted,
    FALSE AS archived,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(created AS TIMESTAMPTZ) AS created_at,
    CAST(last_update AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM devices
