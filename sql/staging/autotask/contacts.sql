-- Autotask contacts: the office phone first, the mobile where there is none.
SELECT
    'autotask' AS source,
    id AS source_id,
    company_id AS organization_source_id,
    first_name,
    last_name,
    norm_person(first_name) AS first_name_norm,
    norm_person(last_name) AS last_name_norm,
    norm_email(email_address) AS email_norm,
    coalesce(phone_digits(phone), phone_digits(mobile_phone)) AS phone_digits,
    title,
    CAST(NULL AS VARCHAR) AS psa_integration,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(create_date AS TIMESTAMPTZ) AS created_at,
    CAST(coalesce(last_modified_date, last_activity_date) AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.autotask_contacts
