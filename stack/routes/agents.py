"""Agents and their executions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from stack.clock import iso
from stack.db import Agent, Execution
from stack.ids import AGENT_ID, EXECUTION_ID, new_id
from stack.policy import Target
from stack.quotas import remove_agent, reserve_agent, reserve_execution
from stack.routes.common import Ctx, Limit, Offset
from stack.schemas import AgentCreate, AgentPatch, ExecutionCreate
from stack.scope import page

router = APIRouter(prefix="/v1")

AgentId = Annotated[str, Path(pattern=AGENT_ID)]
ExecutionId = Annotated[str, Path(pattern=EXECUTION_ID)]


def agent_view(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "model": agent.model,
        "created_at": iso(agent.created_at),
        "updated_at": iso(agent.updated_at),
    }


def execution_view(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "agent_id": execution.agent_id,
        "status": execution.status,
        "input": execution.input,
        "output": execution.output,
        "created_at": iso(execution.created_at),
    }


@router.post("/agents", status_code=201)
def create_agent(body: AgentCreate, ctx: Ctx) -> dict[str, Any]:
    target = Target("create", "agent")
    ctx.enforcer.access(target, ctx.principal.tenant)

    reserve_agent(ctx, target)

    agent = Agent(
        id=new_id("ag"), **body.model_dump(), created_at=ctx.now, updated_at=ctx.now
    )
    ctx.scope.add(agent)
    ctx.session.commit()
    return agent_view(agent)


@router.get("/agents")
def list_agents(ctx: Ctx, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    ctx.enforcer.access(Target("list", "agent"), ctx.principal.tenant)
    statement = ctx.scope.select(Agent).order_by(Agent.created_at, Agent.id)
    agents, total = page(ctx.session, statement, limit, offset)
    return {"items": [agent_view(agent) for agent in agents], "total": total}


@router.get("/agents/{agent_id}")
def read_agent(agent_id: AgentId, ctx: Ctx) -> dict[str, Any]:
    target = Target("read", "agent", agent_id)
    return agent_view(ctx.resolve(Agent, target, ctx.variant.agent_for_read))


@router.patch("/agents/{agent_id}")
def patch_agent(agent_id: AgentId, body: AgentPatch, ctx: Ctx) -> dict[str, Any]:
    agent = ctx.resolve(Agent, Target("update", "agent", agent_id))
    changes = body.model_dump(include=body.model_fields_set)
    if changes.get("description", "") is None:
        changes["description"] = ""
    return _update(ctx, agent, changes)


@router.put("/agents/{agent_id}")
def replace_agent(agent_id: AgentId, body: AgentCreate, ctx: Ctx) -> dict[str, Any]:
    agent = ctx.resolve(Agent, Target("update", "agent", agent_id))
    return _update(ctx, agent, body.model_dump())


def _update(ctx: Ctx, agent: Agent, changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        setattr(agent, name, value)
    agent.updated_at = ctx.now
    ctx.session.commit()
    return agent_view(agent)


@router.delete("/agents/{agent_id}", status_code=204)
def delete_agent(agent_id: AgentId, ctx: Ctx) -> Response:
    target = Target("delete", "agent", agent_id)
    agent = ctx.resolve(Agent, target)
    if not remove_agent(ctx.scope, agent):  # a racing delete removed it first
        ctx.enforcer.missing(target)
    ctx.session.commit()
    return Response(status_code=204)


@router.post("/agents/{agent_id}/executions", status_code=201)
def create_execution(
    agent_id: AgentId, body: ExecutionCreate, ctx: Ctx
) -> dict[str, Any]:
    target = Target("execute", "agent", agent_id)
    agent = ctx.resolve(Agent, target)
    for tool in body.tools:
        ctx.enforcer.feature(target, tool)

    reserve_execution(ctx, target)

    execution = Execution(
        id=new_id("ex"),
        agent_id=agent.id,
        status="succeeded",
        input=body.input,
        output=f"echo: {body.input}",
        created_at=ctx.now,
    )
    ctx.scope.add(execution)
    ctx.session.commit()
    return execution_view(execution)


@router.get("/agents/{agent_id}/executions")
def list_executions(
    agent_id: AgentId, ctx: Ctx, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    agent = ctx.resolve(Agent, Target("read", "agent", agent_id))
    ctx.enforcer.access(Target("list", "execution"), ctx.principal.tenant)
    statement = ctx.scope.select(Execution, Execution.agent_id == agent.id)
    statement = statement.order_by(Execution.created_at, Execution.id)
    executions, total = page(ctx.session, statement, limit, offset)
    return {"items": [execution_view(e) for e in executions], "total": total}


@router.get("/agents/{agent_id}/executions/{execution_id}")
def read_child_execution(
    agent_id: AgentId, execution_id: ExecutionId, ctx: Ctx
) -> dict[str, Any]:
    agent = ctx.resolve(Agent, Target("read", "agent", agent_id))

    def child(scope, object_id):
        return ctx.variant.child_execution(scope, agent, object_id)

    target = Target("read", "execution", execution_id)
    return execution_view(ctx.resolve(Execution, target, child))


@router.get("/executions/{execution_id}")
def read_execution(execution_id: ExecutionId, ctx: Ctx) -> dict[str, Any]:
    target = Target("read", "execution", execution_id)
    return execution_view(ctx.resolve(Execution, target))
