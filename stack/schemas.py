"""Request bodies: strict types, bounded sizes, and no field beyond those listed.

An unknown field (`tenant_id`, `owner`, `id`, `created_at`, ...) is a 400, so a
caller can never assign what the server decides.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

Name = Annotated[str, Field(min_length=1, max_length=100)]
Description = Annotated[str, Field(max_length=1000)]
ModelName = Annotated[str, Field(min_length=1, max_length=200)]
FeatureName = Annotated[str, Field(min_length=1, max_length=64)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AgentCreate(Body):
    name: Name
    description: Description = ""
    model: ModelName | None = None


class AgentPatch(Body):
    name: Name | None = None
    description: Description | None = None
    model: ModelName | None = None

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, name: str | None) -> str:
        if name is None:
            raise ValueError("name cannot be null")
        return name


class ExecutionCreate(Body):
    input: Annotated[str, Field(max_length=10_000)]
    tools: Annotated[list[FeatureName], Field(max_length=8)] = Field(
        default_factory=list
    )


class CredentialCheck(Body):
    secret: Annotated[str, Field(min_length=1, max_length=4096)]

    def __repr__(self) -> str:
        return "CredentialCheck(secret=[secure])"

    __str__ = __repr__


class CredentialCreate(Body):
    name: Name
    secret: Annotated[str, Field(min_length=1, max_length=4096)]

    def __repr__(self) -> str:
        return f"CredentialCreate(name={self.name!r}, secret=[secure])"

    __str__ = __repr__


class TokenCreate(Body):
    user: Annotated[str, Field(min_length=1, max_length=128)]
    roles: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=16)]
    ttl_seconds: Annotated[int, Field(ge=1, le=30 * 86_400)] = 3600
