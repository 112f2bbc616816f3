# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

################################################################################
# User pool
################################################################################

output "user_pool_id" {
  description = "ID of the user pool."
  value       = aws_cognito_user_pool.this.id
}

output "issuer" {
  description = "JWT issuer URL of the user pool."
  value       = "https://cognito-idp.ap-northeast-1.amazonaws.com/${aws_cognito_user_pool.this.id}"
}

################################################################################
# App client
################################################################################

output "client_id" {
  description = "ID of the app client."
  value       = aws_cognito_user_pool_client.this.id
}
