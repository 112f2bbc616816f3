# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

################################################################################
# VPC link
################################################################################

output "vpc_link_id" {
  description = "ID of the VPC link."
  value       = aws_apigatewayv2_vpc_link.this.id
}

output "vpc_link_security_group_id" {
  description = "Security group of the VPC link; the services admit only it."
  value       = aws_security_group.vpc_link.id
}

################################################################################
# HTTP API
################################################################################

output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Invoke URL of the $default stage."
  value       = aws_apigatewayv2_stage.default.invoke_url
}
