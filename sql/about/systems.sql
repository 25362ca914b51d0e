-- about.systems: the systems msp-recon knows (the registry in pipelines/sources/), one row each, so that SQL can
-- ask "which sources are PSAs" instead of listing them. Rows are inserted from the registry after this runs.
CREATE SCHEMA IF NOT EXISTS about;
CREATE OR REPLACE TABLE about.systems (
    source VARCHAR PRIMARY KEY,       -- the contract's `source` value
    kind VARCHAR NOT NULL,            -- documentation, psa or rmm
    title VARCHAR,                    -- the vendor's product name
    itglue_integration_type VARCHAR,  -- IT Glue's psa_integration_type / rmm_integration_type value; NULL: none
    psa_link_target VARCHAR,          -- the PSA whose company ids its organizations carry
    staged VARCHAR[],                 -- staging tables it contributes to
    env VARCHAR[],                    -- its environment variables
    rate_limit_env VARCHAR            -- the variable that sets its request budget
);
