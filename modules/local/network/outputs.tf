# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

################################################################################
# VPC
################################################################################

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone."
  value = [
    aws_subnet.private_1.id,
    aws_subnet.private_2.id,
  ]
}
