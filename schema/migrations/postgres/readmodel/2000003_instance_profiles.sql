-- Instance profiles and the role each holds (AWS allows one). Their tags live in rm_tags, keyed by
-- the instance profile's unique id (AIPA...). No earlier event names an instance profile, so no
-- existing read model needs a rebuild.
CREATE TABLE rm_instance_profiles (
    account_id            TEXT NOT NULL,
    instance_profile_id   TEXT NOT NULL,
    instance_profile_name TEXT NOT NULL,
    path                  TEXT NOT NULL,
    arn                   TEXT NOT NULL,
    create_date           TEXT NOT NULL,
    PRIMARY KEY (account_id, instance_profile_id)
);
CREATE INDEX rm_instance_profiles_by_path ON rm_instance_profiles (account_id, path, instance_profile_name);

CREATE TABLE rm_instance_profile_roles (
    account_id          TEXT NOT NULL,
    instance_profile_id TEXT NOT NULL,
    role_id             TEXT NOT NULL,
    PRIMARY KEY (account_id, instance_profile_id, role_id)
);
CREATE INDEX rm_instance_profile_roles_by_role ON rm_instance_profile_roles (account_id, role_id);
