# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

################################################################################
# VPC link
################################################################################

# Its egress rules are added per service by the ecs module, next to the
# matching ingress rule on each service's security group.
resource "aws_security_group" "vpc_link" {
  name_prefix = "sss-prod-vpc-link-"
  description = "API Gateway VPC link to the ECS services"
  vpc_id      = var.vpc_id

  # A group in use by the VPC link's network interfaces cannot be deleted: the
  # new one is made (under a new name) and put in place first.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_apigatewayv2_vpc_link" "this" {
  name               = "sss-prod"
  security_group_ids = [aws_security_group.vpc_link.id]
  subnet_ids         = var.subnet_ids

  # VPC links are immutable, and AWS refuses to delete one that routes still use
  # (terraform-provider-aws #12195): the new link is made and the integrations
  # moved to it before the old one is deleted.
  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# HTTP API
################################################################################

resource "aws_apigatewayv2_api" "this" {
  name          = "sss-prod"
  protocol_type = "HTTP"
  description   = "HTTP API of sss-prod"
  # Clients use the custom domain only: the default execute-api URL would bypass it.
  disable_execute_api_endpoint = true

  cors_configuration {
    allow_origins     = ["https://sales.example.com"]
    allow_methods     = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    allow_headers     = ["authorization", "content-type"]
    allow_credentials = false
    max_age           = 300
  }

  lifecycle {
    # protect: true. hclforge apply --allow-replace lifts it for one apply.
    prevent_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  # checkov:skip=CKV_AWS_158: encrypted at rest by CloudWatch Logs with an AWS-owned key; no CMK in this stack
  name              = "/aws/apigateway/sss-prod"
  retention_in_days = 365

  lifecycle {
    # protect: true. hclforge apply --allow-replace lifts it for one apply.
    prevent_destroy = true
  }
}

# The $default stage: a named stage would be prepended to the backend path.
resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      requestTime      = "$context.requestTime"
      httpMethod       = "$context.httpMethod"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      responseLatency  = "$context.responseLatency"
      integrationError = "$context.integrationErrorMessage"
      authorizerError  = "$context.authorizer.error"
    })
  }

  # Both limits always: one left out is 0, and every request gets 429.
  default_route_settings {
    throttling_burst_limit = 1000
    throttling_rate_limit  = 500
  }
}

################################################################################
# Custom domain
################################################################################

resource "aws_apigatewayv2_domain_name" "this" {
  domain_name = "api.sales.example.com"

  domain_name_configuration {
    certificate_arn = "arn:aws:acm:ap-northeast-1:222222222222:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this.id
  stage       = aws_apigatewayv2_stage.default.id
}

resource "aws_route53_record" "this" {
  zone_id = "Z0123456789ABCDEFGHIJ"
  name    = aws_apigatewayv2_domain_name.this.domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}

################################################################################
# JWT authorizer (Cognito)
################################################################################

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "cognito"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

################################################################################
# Service: api
################################################################################

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.this.id
  description            = "Cloud Map service api"
  integration_type       = "HTTP_PROXY"
  integration_method     = "ANY"
  integration_uri        = var.cloudmap_service_arns["api"]
  connection_type        = "VPC_LINK"
  connection_id          = aws_apigatewayv2_vpc_link.this.id
  payload_format_version = "1.0"
}

# "ANY /api/{proxy+}" without OPTIONS: with CORS, API Gateway answers a browser's
# preflight itself only when no route matches it, and a JWT route would answer 401.

resource "aws_apigatewayv2_route" "api_delete_api_proxy" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "DELETE /api/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "api_get_api_proxy" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /api/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "api_head_api_proxy" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "HEAD /api/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "api_patch_api_proxy" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "PATCH /api/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "api_post_api_proxy" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "POST /api/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "api_put_api_proxy" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "PUT /api/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "api_get_api" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /api"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}
