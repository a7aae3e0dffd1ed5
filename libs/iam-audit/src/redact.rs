//! Secrets never enter a record: fields that carry them are replaced before recording.

use serde_json::Value;

/// Field names (compared case-insensitively) whose values are secrets.
const SECRET_FIELDS: &[&str] = &[
    "secretaccesskey",
    "password",
    "newpassword",
    "oldpassword",
    "sessiontoken",
    "privatekey",
    "secret",
    "secret_ciphertext",
    "secretciphertext",
];

/// Replaces every secret-bearing field, at any depth, with `"HIDDEN_DUE_TO_SECURITY_REASONS"`
/// (CloudTrail's own placeholder).
pub fn redact_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                let lower = key.to_ascii_lowercase();
                if SECRET_FIELDS.contains(&lower.as_str()) && !field.is_null() {
                    *field = Value::String("HIDDEN_DUE_TO_SECURITY_REASONS".into());
                } else {
                    redact_secrets(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_secrets_at_any_depth_and_keeps_the_rest() {
        let mut value = serde_json::json!({"createAccessKey": {"accessKey": {"accessKeyId": "AKIA1",
            "secretAccessKey": "wJalr"}}, "list": [{"Password": "x"}], "userName": "bob"});
        redact_secrets(&mut value);
        assert_eq!(
            value["createAccessKey"]["accessKey"]["secretAccessKey"],
            "HIDDEN_DUE_TO_SECURITY_REASONS"
        );
        assert_eq!(value["createAccessKey"]["accessKey"]["accessKeyId"], "AKIA1");
        assert_eq!(value["list"][0]["Password"], "HIDDEN_DUE_TO_SECURITY_REASONS");
        assert_eq!(value["userName"], "bob");
        assert!(!value.to_string().contains("wJalr"));
    }
}
