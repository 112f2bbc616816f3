# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

# Availability zones only: Local and Wavelength Zones are opt-in and take no NAT or endpoints.
data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  cidr_block         = "10.42.0.0/16"
  enable_dns_support = true
  # Cloud Map private DNS namespaces and private endpoint DNS need DNS hostnames.
  enable_dns_hostnames = true

  tags = {
    Name = "sss-local"
  }

  lifecycle {
    # One private subnet per zone: name the shortfall instead of failing on an index.
    precondition {
      condition     = length(data.aws_availability_zones.available.names) >= 2
      error_message = "network.create.private_subnets is 2, but this account sees fewer availability zones in ap-northeast-1: lower it"
    }
  }
}

################################################################################
# Private route table 1
################################################################################

resource "aws_route_table" "private_1" {
  vpc_id = aws_vpc.this.id

  tags = {
    Name = "sss-local-private"
  }
}

################################################################################
# Private subnet 1
################################################################################

resource "aws_subnet" "private_1" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.42.0.0/20"
  availability_zone = data.aws_availability_zones.available.names[0]

  tags = {
    Name = "sss-local-private-1"
  }
}

resource "aws_route_table_association" "private_1" {
  subnet_id      = aws_subnet.private_1.id
  route_table_id = aws_route_table.private_1.id
}

################################################################################
# Private subnet 2
################################################################################

resource "aws_subnet" "private_2" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.42.16.0/20"
  availability_zone = data.aws_availability_zones.available.names[1]

  tags = {
    Name = "sss-local-private-2"
  }
}

resource "aws_route_table_association" "private_2" {
  subnet_id      = aws_subnet.private_2.id
  route_table_id = aws_route_table.private_1.id
}
