-- ConnectWise contacts: email and phone are the default ones among communicationItems (chosen at extraction).
SELECT
    'connectwise' AS source,
    id AS source_id,
    company_id AS organization_source_id,
    first_name,
    last_name,
    norm_person(first_name) AS first_name_norm,
    norm_person(last_name) AS last_name_norm,
    norm_email(email) AS email_norm,
    phone_digits(phone) AS phone_digits,
    title,
    CAST(NULL AS VARCHAR) AS psa_integration,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(date_entered AS TIMESTAMPTZ) AS created_at,
    CAST(last_updated AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.connectwise_contacts
