# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

################################################################################
# VPC link
################################################################################

# Its egress rules are added per service by the ecs module, next to the
# matching ingress rule on each service's security group.
resource "aws_security_group" "vpc_link" {
  name_prefix = "sss-local-vpc-link-"
  description = "API Gateway VPC link to the ECS services"
  vpc_id      = var.vpc_id

  # A group in use by the VPC link's network interfaces cannot be deleted: the
  # new one is made (under a new name) and put in place first.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_apigatewayv2_vpc_link" "this" {
  name               = "sss-local"
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
  name          = "sss-local"
  protocol_type = "HTTP"
  description   = "HTTP API of sss-local"
}

resource "aws_cloudwatch_log_group" "access" {
  # checkov:skip=CKV_AWS_158: encrypted at rest by CloudWatch Logs with an AWS-owned key; no CMK in this stack
  name              = "/aws/apigateway/sss-local"
  retention_in_days = 30
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
    throttling_burst_limit = 200
    throttling_rate_limit  = 100
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

resource "aws_apigatewayv2_route" "api_any_api_proxy" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /api/{proxy+}"
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

################################################################################
# Service: web
################################################################################

resource "aws_apigatewayv2_integration" "web" {
  api_id                 = aws_apigatewayv2_api.this.id
  description            = "Cloud Map service web"
  integration_type       = "HTTP_PROXY"
  integration_method     = "ANY"
  integration_uri        = var.cloudmap_service_arns["web"]
  connection_type        = "VPC_LINK"
  connection_id          = aws_apigatewayv2_vpc_link.this.id
  payload_format_version = "1.0"
}

resource "aws_apigatewayv2_route" "web_get_root" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /"
  target             = "integrations/${aws_apigatewayv2_integration.web.id}"
  authorization_type = "NONE"
}

resource "aws_apigatewayv2_route" "web_get_static_proxy" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /static/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.web.id}"
  authorization_type = "NONE"
}
