"""Parameter types shared by the tenant routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from stack.context import TenantContext, tenant_context

MAX_OFFSET = 1_000_000_000

Ctx = Annotated[TenantContext, Depends(tenant_context)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
