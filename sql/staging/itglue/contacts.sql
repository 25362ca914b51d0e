SELECT
    'itglue' AS source,
    id AS source_id,
    organization_id AS organization_source_id,
    first_name,
    last_name,
    norm_person(first_name) AS first_name_norm,
    norm_person(last_name) AS last_name_norm,
    norm_email(primary_email) AS email_norm,
    phone_digits(primary_phone) AS phone_digits,
    title,
    psa_integration,
    resource_url,
    CAST(created_at AS TIMESTAMPTZ) AS created_at,
    CAST(updated_at AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.itglue_contacts
