-- The shape of each staging table (documented in README.md beside this file). Every source's SELECT is unioned BY NAME
-- onto these empty tables, so types and column order are fixed here, and a SELECT that adds a column is caught.
CREATE OR REPLACE TEMP TABLE organizations_shape (
    source VARCHAR, source_id VARCHAR, name VARCHAR, name_norm VARCHAR, domain VARCHAR, phone_digits VARCHAR,
    city VARCHAR, psa_integration VARCHAR, is_active BOOLEAN, psa_company_id VARCHAR, rmm_org_keys VARCHAR[],
    resource_url VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, extracted_at TIMESTAMPTZ
);
CREATE OR REPLACE TEMP TABLE configurations_shape (
    source VARCHAR, source_id VARCHAR, organization_source_id VARCHAR, name VARCHAR, name_norm VARCHAR,
    hostname_norm VARCHAR, serial_norm VARCHAR, mac_norm VARCHAR, macs VARCHAR[], ip VARCHAR, config_type VARCHAR,
    manufacturer VARCHAR, model VARCHAR, os VARCHAR, psa_integration VARCHAR, has_rmm_record BOOLEAN,
    rmm_device_id VARCHAR, rmm_source VARCHAR, is_active BOOLEAN, is_deleted BOOLEAN, archived BOOLEAN,
    resource_url VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, extracted_at TIMESTAMPTZ
);
CREATE OR REPLACE TEMP TABLE contacts_shape (
    source VARCHAR, source_id VARCHAR, organization_source_id VARCHAR, first_name VARCHAR, last_name VARCHAR,
    first_name_norm VARCHAR, last_name_norm VARCHAR, email_norm VARCHAR, phone_digits VARCHAR, title VARCHAR,
    psa_integration VARCHAR, resource_url VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
    extracted_at TIMESTAMPTZ
);
