-- HaloPSA keeps its IT Glue links on its own side (`itglue_id` on clients, assets and users): IT Glue's copies have
-- psa-integration NULL. The IT Glue record a Halo record points at is the copy Halo's integration syncs, so it is
-- marked `enabled`, as IT Glue marks the copies its own PSA integrations sync: duplicates then keep it, and the
-- orphan rules see it as synced. raw.halopsa_itglue_links keeps the links of earlier runs too: a copy whose Halo
-- record was deleted since stays a synced copy, whose partner a run with history proves gone (psa_record_deleted).
-- Runs after the staging tables are built, in the same transaction.
UPDATE staging.organizations AS g SET psa_integration = 'enabled'
WHERE g.source = 'itglue' AND g.psa_integration IS NULL
  AND g.source_id IN (SELECT itglue_id FROM raw.halopsa_itglue_links WHERE entity_type = 'organization');
UPDATE staging.configurations AS g SET psa_integration = 'enabled'
WHERE g.source = 'itglue' AND g.psa_integration IS NULL
  AND g.source_id IN (SELECT itglue_id FROM raw.halopsa_itglue_links WHERE entity_type = 'configuration');
UPDATE staging.contacts AS g SET psa_integration = 'enabled'
WHERE g.source = 'itglue' AND g.psa_integration IS NULL
  AND g.source_id IN (SELECT itglue_id FROM raw.halopsa_itglue_links WHERE entity_type = 'contact');
