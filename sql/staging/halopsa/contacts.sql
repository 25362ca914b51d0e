-- HaloPSA users (the client's people; agents are a separate list Halo does not return here).
SELECT
    'halopsa' AS source,
    id AS source_id,
    client_id AS organization_source_id,
    coalesce(firstname, split_part(name, ' ', 1)) AS first_name,
    coalesce(surname, nullif(trim(substr(name, length(split_part(name, ' ', 1)) + 1)), '')) AS last_name,
    norm_person(coalesce(firstname, split_part(name, ' ', 1))) AS first_name_norm,
    norm_person(coalesce(surname, nullif(trim(substr(name, length(split_part(name, ' ', 1)) + 1)), ''))) AS last_name_norm,
    norm_email(emailaddress) AS email_norm,
    phone_digits(phonenumber) AS phone_digits,
    jobtitle AS title,
    CAST(NULL AS VARCHAR) AS psa_integration,
    CAST(NULL AS VARCHAR) AS resource_url,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    CAST(NULL AS TIMESTAMPTZ) AS updated_at,
    CAST(extracted_at AS TIMESTAMPTZ) AS extracted_at
FROM raw.halopsa_users
