# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

################################################################################
# Private DNS namespace
################################################################################

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = "sss-prod.internal"
  description = "Service discovery of sss-prod"
  vpc         = var.vpc_id

  lifecycle {
    # protect: true. hclforge apply --allow-replace lifts it for one apply.
    prevent_destroy = true
  }
}

################################################################################
# Service: api
################################################################################

# API Gateway's private integration needs instances with IP and port, which ECS
# registers only for SRV records. An SRV record's target is
# <instance-id>.<service>.<namespace>, so callers inside the VPC need the A record
# to resolve <service>.<namespace>; ECS registers both on awsvpc.
resource "aws_service_discovery_service" "api" {
  name        = "api"
  description = "Tasks of ECS service api"
  # Registered tasks must not block a destroy.
  force_destroy = true

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }

    dns_records {
      type = "SRV"
      ttl  = 10
    }
  }

  # ECS reports task health to Cloud Map through a custom health check. AWS always
  # uses a threshold of 1 and the argument is deprecated, but an empty block is sent
  # as no config at all, so every later plan would replace the service (provider
  # issue #44285).
  health_check_custom_config {
    failure_threshold = 1
  }

  lifecycle {
    # protect: true. hclforge apply --allow-replace lifts it for one apply.
    prevent_destroy = true
  }
}
