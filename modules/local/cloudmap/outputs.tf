# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

################################################################################
# Private DNS namespace
################################################################################

output "namespace_id" {
  description = "ID of the private DNS namespace."
  value       = aws_service_discovery_private_dns_namespace.this.id
}

output "namespace_name" {
  description = "Name of the private DNS namespace."
  value       = aws_service_discovery_private_dns_namespace.this.name
}

################################################################################
# Services
################################################################################

output "service_arns" {
  description = "Cloud Map service ARN, by ECS service (services with a port only)."
  value = {
    "api" = aws_service_discovery_service.api.arn
    "web" = aws_service_discovery_service.web.arn
  }
}
