# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

data "aws_region" "current" {}

################################################################################
# Cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  name = "sss-local"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

################################################################################
# Service: api
################################################################################

resource "aws_cloudwatch_log_group" "api" {
  # checkov:skip=CKV_AWS_158: encrypted at rest by CloudWatch Logs with an AWS-owned key; no CMK in this stack
  name              = "/ecs/sss-local/api"
  retention_in_days = 7
}

resource "aws_ecs_task_definition" "api" {
  family                   = "sss-local-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "512"
  memory                   = "1024"
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns["api"]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name      = "api"
      image     = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/sss-api:1.4.2"
      essential = true
      portMappings = [
        {
          name          = "http"
          containerPort = 8080
          protocol      = "tcp"
        },
      ]
      environment = [
        {
          name  = "LOG_LEVEL"
          value = "debug"
        },
        {
          name  = "PORT"
          value = "8080"
        },
      ]
      healthCheck = {
        command     = ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 10
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.api.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "ecs"
        }
      }
      memory = 1024
    },
  ])
}

resource "aws_security_group" "api" {
  name_prefix = "sss-local-api-tasks-"
  description = "Tasks of ECS service api"
  vpc_id      = var.vpc_id

  # A group in use by running tasks cannot be deleted: replace it new-first.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group_rule" "api_egress" {
  description       = "Pull images, read secrets, write logs, call AWS APIs"
  security_group_id = aws_security_group.api.id
  type              = "egress"
  protocol          = "-1"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = ["0.0.0.0/0"]
}

# The tasks admit only the VPC link, on the container port.
resource "aws_security_group_rule" "api_from_vpc_link" {
  description              = "API Gateway VPC link"
  security_group_id        = aws_security_group.api.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 8080
  to_port                  = 8080
  source_security_group_id = var.vpc_link_security_group_id
}

resource "aws_security_group_rule" "vpc_link_to_api" {
  description              = "To ECS service api"
  security_group_id        = var.vpc_link_security_group_id
  type                     = "egress"
  protocol                 = "tcp"
  from_port                = 8080
  to_port                  = 8080
  source_security_group_id = aws_security_group.api.id
}

resource "aws_ecs_service" "api" {
  name                  = "api"
  cluster               = aws_ecs_cluster.this.id
  task_definition       = aws_ecs_task_definition.api.arn
  desired_count         = 1
  propagate_tags        = "SERVICE"
  wait_for_steady_state = false
  # Emulator shim ecs_service_launch_type (hclforge/shims.py).
  launch_type = "FARGATE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.api.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  service_registries {
    registry_arn   = var.cloudmap_service_arns["api"]
    container_name = "api"
    container_port = 8080
  }

  lifecycle {
    # Emulator shim ecs_service_ignore_az_rebalancing (hclforge/shims.py).
    ignore_changes = [availability_zone_rebalancing]
  }

  # Tasks start only once their own security-group rules (and the endpoints' rule
  # that admits them) exist: a task without a way out stops with
  # ResourceInitializationError or CannotPullContainerError.
  depends_on = [
    aws_ecs_cluster_capacity_providers.this,
    aws_security_group_rule.api_egress,
    aws_security_group_rule.api_from_vpc_link,
  ]
}

################################################################################
# Service: web
################################################################################

resource "aws_cloudwatch_log_group" "web" {
  # checkov:skip=CKV_AWS_158: encrypted at rest by CloudWatch Logs with an AWS-owned key; no CMK in this stack
  name              = "/ecs/sss-local/web"
  retention_in_days = 7
}

resource "aws_ecs_task_definition" "web" {
  family                   = "sss-local-web"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns["web"]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name      = "web"
      image     = "public.ecr.aws/nginx/nginx:1.27-alpine"
      essential = true
      command   = ["/bin/sh", "-c", "echo '<h1>Sales support (local)</h1>' > /usr/share/nginx/html/index.html && exec nginx -g 'daemon off;'"]
      portMappings = [
        {
          name          = "http"
          containerPort = 80
          protocol      = "tcp"
        },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.web.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "ecs"
        }
      }
      memory = 512
    },
    {
      name              = "otel"
      image             = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1"
      essential         = false
      memoryReservation = 64
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.web.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "ecs"
        }
      }
    },
  ])
}

resource "aws_security_group" "web" {
  name_prefix = "sss-local-web-tasks-"
  description = "Tasks of ECS service web"
  vpc_id      = var.vpc_id

  # A group in use by running tasks cannot be deleted: replace it new-first.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group_rule" "web_egress" {
  description       = "Pull images, read secrets, write logs, call AWS APIs"
  security_group_id = aws_security_group.web.id
  type              = "egress"
  protocol          = "-1"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = ["0.0.0.0/0"]
}

# The tasks admit only the VPC link, on the container port.
resource "aws_security_group_rule" "web_from_vpc_link" {
  description              = "API Gateway VPC link"
  security_group_id        = aws_security_group.web.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 80
  to_port                  = 80
  source_security_group_id = var.vpc_link_security_group_id
}

resource "aws_security_group_rule" "vpc_link_to_web" {
  description              = "To ECS service web"
  security_group_id        = var.vpc_link_security_group_id
  type                     = "egress"
  protocol                 = "tcp"
  from_port                = 80
  to_port                  = 80
  source_security_group_id = aws_security_group.web.id
}

resource "aws_ecs_service" "web" {
  name                  = "web"
  cluster               = aws_ecs_cluster.this.id
  task_definition       = aws_ecs_task_definition.web.arn
  desired_count         = 1
  propagate_tags        = "SERVICE"
  wait_for_steady_state = false
  # Emulator shim ecs_service_launch_type (hclforge/shims.py).
  launch_type = "FARGATE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.web.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  service_registries {
    registry_arn   = var.cloudmap_service_arns["web"]
    container_name = "web"
    container_port = 80
  }

  lifecycle {
    # Emulator shim ecs_service_ignore_az_rebalancing (hclforge/shims.py).
    ignore_changes = [availability_zone_rebalancing]
  }

  # Tasks start only once their own security-group rules (and the endpoints' rule
  # that admits them) exist: a task without a way out stops with
  # ResourceInitializationError or CannotPullContainerError.
  depends_on = [
    aws_ecs_cluster_capacity_providers.this,
    aws_security_group_rule.web_egress,
    aws_security_group_rule.web_from_vpc_link,
  ]
}
