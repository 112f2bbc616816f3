# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

data "aws_region" "current" {}

################################################################################
# Cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  name = "sss-prod"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  lifecycle {
    # protect: true. hclforge apply --allow-replace lifts it for one apply.
    prevent_destroy = true
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

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
  name              = "/ecs/sss-prod/api"
  retention_in_days = 365

  lifecycle {
    # protect: true. hclforge apply --allow-replace lifts it for one apply.
    prevent_destroy = true
  }
}

resource "aws_ecs_task_definition" "api" {
  family                   = "sss-prod-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "1024"
  memory                   = "2048"
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns["api"]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "ARM64"
  }

  container_definitions = jsonencode([
    {
      name      = "api"
      image     = "222222222222.dkr.ecr.ap-northeast-1.amazonaws.com/sss-api:1.4.2"
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
          valueFrom = "arn:aws:secretsmanager:ap-northeast-1:222222222222:secret:sss/prod/db-XyZ123"
        },
      ]
      readonlyRootFilesystem = true
      mountPoints = [
        {
          sourceVolume  = "tmp"
          containerPath = "/tmp"
          readOnly      = false
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

  # The root filesystem is read-only: /tmp is this task-scoped scratch volume.
  volume {
    name = "tmp"
  }
}

resource "aws_security_group" "api" {
  name_prefix = "sss-prod-api-tasks-"
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
  desired_count         = 2
  propagate_tags        = "SERVICE"
  wait_for_steady_state = false

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

  lifecycle {
    # Application Auto Scaling owns the task count.
    ignore_changes = [desired_count]
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

resource "aws_appautoscaling_target" "api" {
  service_namespace = "ecs"
  # Naming the service makes the target wait for it, as AWS requires.
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 2
  max_capacity       = 6
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "sss-prod-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "api_memory" {
  name               = "sss-prod-api-memory"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = 75

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageMemoryUtilization"
    }
  }
}

################################################################################
# Service: worker
################################################################################

resource "aws_cloudwatch_log_group" "worker" {
  # checkov:skip=CKV_AWS_158: encrypted at rest by CloudWatch Logs with an AWS-owned key; no CMK in this stack
  name              = "/ecs/sss-prod/worker"
  retention_in_days = 365

  lifecycle {
    # protect: true. hclforge apply --allow-replace lifts it for one apply.
    prevent_destroy = true
  }
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "sss-prod-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "512"
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
      image     = "222222222222.dkr.ecr.ap-northeast-1.amazonaws.com/sss-worker:1.4.2"
      essential = true
      command   = ["python", "-m", "worker"]
      environment = [
        {
          name  = "QUEUE_URL"
          value = "https://sqs.ap-northeast-1.amazonaws.com/222222222222/sss-prod-jobs"
        },
      ]
      secrets = [
        {
          name      = "CRM_API_TOKEN"
          valueFrom = "arn:aws:ssm:ap-northeast-1:222222222222:parameter/sss/prod/crm-token"
        },
      ]
      readonlyRootFilesystem = true
      mountPoints = [
        {
          sourceVolume  = "tmp"
          containerPath = "/tmp"
          readOnly      = false
        },
      ]
      stopTimeout = 120
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

  # The root filesystem is read-only: /tmp is this task-scoped scratch volume.
  volume {
    name = "tmp"
  }
}

resource "aws_security_group" "worker" {
  name_prefix = "sss-prod-worker-tasks-"
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
  desired_count         = 2
  propagate_tags        = "SERVICE"
  wait_for_steady_state = false

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 1
  }

  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 3
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
