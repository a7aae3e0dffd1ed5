//! Policy validation in the manner of IAM Access Analyzer ValidatePolicy.
