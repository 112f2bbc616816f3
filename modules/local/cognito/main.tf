# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

################################################################################
# User pool
################################################################################

resource "aws_cognito_user_pool" "this" {
  name                     = "sss-local"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = "INACTIVE"

  password_policy {
    minimum_length    = 12
    require_lowercase = true
    require_uppercase = true
    require_numbers   = true
    require_symbols   = false
  }
}

################################################################################
# App client (the JWT audience)
################################################################################

resource "aws_cognito_user_pool_client" "this" {
  name                = "sss-local-api"
  user_pool_id        = aws_cognito_user_pool.this.id
  generate_secret     = false
  explicit_auth_flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
}
