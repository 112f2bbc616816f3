# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

output "api_endpoint" {
  description = "Base URL of the HTTP API, on its custom domain."
  value       = module.apigateway.api_endpoint
}

output "api_domain_target" {
  description = "Regional target of the custom domain (for a CNAME when no zone_id is given)."
  value       = module.apigateway.domain_target
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.ecs.cluster_name
}

output "service_names" {
  description = "ECS service names, by service."
  value       = module.ecs.service_names
}

output "namespace" {
  description = "Cloud Map private DNS namespace of the services."
  value       = module.cloudmap.namespace_name
}

output "alarm_names" {
  description = "CloudWatch alarms of the environment."
  value       = module.alarms.alarm_names
}
