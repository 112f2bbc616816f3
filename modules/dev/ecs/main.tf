# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

data "aws_region" "current" {}

################################################################################
# Cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  name = "sss-dev"

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
  name              = "/ecs/sss-dev/api"
  retention_in_days = 30
}

resource "aws_ecs_task_definition" "api" {
  family                   = "sss-dev-api"
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
          value = "info"
        },
        {
          name  = "PORT"
          value = "8080"
        },
      ]
      secrets = [
        {
          name      = "DB_PASSWORD"
          valueFrom = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:sss/dev/db-AbCdEf"
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
    },
  ])
}

resource "aws_security_group" "api" {
  name_prefix = "sss-dev-api-tasks-"
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

# admin calls this service at http://api.sss-dev.internal:8080 (its calls).
resource "aws_security_group_rule" "api_from_admin" {
  description              = "From ECS service admin"
  security_group_id        = aws_security_group.api.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 8080
  to_port                  = 8080
  source_security_group_id = aws_security_group.admin.id
}

resource "aws_ecs_service" "api" {
  name                  = "api"
  cluster               = aws_ecs_cluster.this.id
  task_definition       = aws_ecs_task_definition.api.arn
  desired_count         = 1
  propagate_tags        = "SERVICE"
  wait_for_steady_state = false
  # ECS Exec: `hclforge exec` opens a shell in a running task (SSM, see the task role).
  enable_execute_command = true

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

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

  # Tasks start only once their own security-group rules (and the endpoints' rule
  # that admits them) exist: a task without a way out stops with
  # ResourceInitializationError or CannotPullContainerError.
  depends_on = [
    aws_ecs_cluster_capacity_providers.this,
    aws_security_group_rule.api_egress,
    aws_security_group_rule.api_from_vpc_link,
    aws_security_group_rule.api_from_admin,
  ]
}

################################################################################
# Service: admin
################################################################################

resource "aws_cloudwatch_log_group" "admin" {
  # checkov:skip=CKV_AWS_158: encrypted at rest by CloudWatch Logs with an AWS-owned key; no CMK in this stack
  name              = "/ecs/sss-dev/admin"
  retention_in_days = 30
}

resource "aws_ecs_task_definition" "admin" {
  family                   = "sss-dev-admin"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns["admin"]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name      = "admin"
      image     = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/sss-admin:0.9.0"
      essential = true
      portMappings = [
        {
          name          = "http"
          containerPort = 3000
          protocol      = "tcp"
        },
      ]
      environment = [
        {
          name  = "API_BASE_URL"
          value = "http://api.sss-dev.internal:8080"
        },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.admin.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "ecs"
        }
      }
    },
  ])
}

resource "aws_security_group" "admin" {
  name_prefix = "sss-dev-admin-tasks-"
  description = "Tasks of ECS service admin"
  vpc_id      = var.vpc_id

  # A group in use by running tasks cannot be deleted: replace it new-first.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group_rule" "admin_egress" {
  description       = "Pull images, read secrets, write logs, call AWS APIs"
  security_group_id = aws_security_group.admin.id
  type              = "egress"
  protocol          = "-1"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = ["0.0.0.0/0"]
}

# The tasks admit only the VPC link, on the container port.
resource "aws_security_group_rule" "admin_from_vpc_link" {
  description              = "API Gateway VPC link"
  security_group_id        = aws_security_group.admin.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 3000
  to_port                  = 3000
  source_security_group_id = var.vpc_link_security_group_id
}

resource "aws_security_group_rule" "vpc_link_to_admin" {
  description              = "To ECS service admin"
  security_group_id        = var.vpc_link_security_group_id
  type                     = "egress"
  protocol                 = "tcp"
  from_port                = 3000
  to_port                  = 3000
  source_security_group_id = aws_security_group.admin.id
}

resource "aws_ecs_service" "admin" {
  name                  = "admin"
  cluster               = aws_ecs_cluster.this.id
  task_definition       = aws_ecs_task_definition.admin.arn
  desired_count         = 1
  propagate_tags        = "SERVICE"
  wait_for_steady_state = false

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.admin.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  service_registries {
    registry_arn   = var.cloudmap_service_arns["admin"]
    container_name = "admin"
    container_port = 3000
  }

  # Tasks start only once their own security-group rules (and the endpoints' rule
  # that admits them) exist: a task without a way out stops with
  # ResourceInitializationError or CannotPullContainerError.
  depends_on = [
    aws_ecs_cluster_capacity_providers.this,
    aws_security_group_rule.admin_egress,
    aws_security_group_rule.admin_from_vpc_link,
  ]
}

################################################################################
# Service: worker
################################################################################

resource "aws_cloudwatch_log_group" "worker" {
  # checkov:skip=CKV_AWS_158: encrypted at rest by CloudWatch Logs with an AWS-owned key; no CMK in this stack
  name              = "/ecs/sss-dev/worker"
  retention_in_days = 30
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "sss-dev-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "1024"
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns["worker"]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name      = "worker"
      image     = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/sss-worker:1.4.2"
      essential = true
      command   = ["python", "-m", "worker"]
      environment = [
        {
          name  = "QUEUE_URL"
          value = "https://sqs.ap-northeast-1.amazonaws.com/111111111111/sss-dev-jobs"
        },
      ]
      secrets = [
        {
          name      = "CRM_API_TOKEN"
          valueFrom = "arn:aws:ssm:ap-northeast-1:111111111111:parameter/sss/dev/crm-token"
        },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.worker.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "ecs"
        }
      }
    },
  ])
}

resource "aws_security_group" "worker" {
  name_prefix = "sss-dev-worker-tasks-"
  description = "Tasks of ECS service worker"
  vpc_id      = var.vpc_id

  # A group in use by running tasks cannot be deleted: replace it new-first.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group_rule" "worker_egress" {
  description       = "Pull images, read secrets, write logs, call AWS APIs"
  security_group_id = aws_security_group.worker.id
  type              = "egress"
  protocol          = "-1"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_ecs_service" "worker" {
  name                  = "worker"
  cluster               = aws_ecs_cluster.this.id
  task_definition       = aws_ecs_task_definition.worker.arn
  desired_count         = 1
  propagate_tags        = "SERVICE"
  wait_for_steady_state = false

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Tasks start only once their own security-group rules (and the endpoints' rule
  # that admits them) exist: a task without a way out stops with
  # ResourceInitializationError or CannotPullContainerError.
  depends_on = [
    aws_ecs_cluster_capacity_providers.this,
    aws_security_group_rule.worker_egress,
  ]
}
