# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

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

output "vpc_id" {
  description = "The sandbox VPC."
  value       = module.network.vpc_id
}

output "user_pool_id" {
  description = "The sandbox Cognito user pool."
  value       = module.cognito.user_pool_id
}

output "user_pool_client_id" {
  description = "The sandbox app client (the JWT audience)."
  value       = module.cognito.client_id
}
