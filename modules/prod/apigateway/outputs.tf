# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

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
  description = "URL of the API on its custom domain (the execute-api endpoint is disabled)."
  value       = "https://${aws_apigatewayv2_domain_name.this.domain_name}"
}

output "domain_target" {
  description = "Regional target of the custom domain: point a CNAME or alias at it when no zone_id is given."
  value       = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].target_domain_name
}
