# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

output "api_endpoint" {
  description = "Base URL of the HTTP API ($default stage)."
  value       = module.apigateway.api_endpoint
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
