-- Argo CD health check for milvus.io/ExternalCollectionRefresh (docs/gitops.md).
-- Reads the kstatus-style conditions the operator writes (Ready, Reconciling, Stalled, each with
-- observedGeneration) and reports them with the condition's message:
--   spec changed and not yet seen by the operator, or no status yet  -> Progressing
--   Stalled=True (job failed, Secret missing, Milvus unreachable too long, ...)  -> Degraded
--   Reconciling=True (submitting, waiting, job pending or in progress)  -> Progressing
--   spec.suspend: true and nothing running  -> Suspended
--   Ready=True (the current trigger's job completed)  -> Healthy
-- Uses only the base and table libraries: it runs as an argocd-cm customization without useOpenLibs.
local hs = { status = "Progressing", message = "Waiting for the operator to report the refresh" }

local function condition(conditions, type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function text(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local generation = obj.metadata.generation
local status = obj.status
if status == nil or status.observedGeneration == nil or (generation ~= nil and status.observedGeneration < generation) then
  if generation ~= nil then
    hs.message = "Waiting for the operator to observe generation " .. generation
  end
  return hs
end

local ready = condition(status.conditions, "Ready")
local reconciling = condition(status.conditions, "Reconciling")
local stalled = condition(status.conditions, "Stalled")

-- Conditions computed for an older generation say nothing about the current spec.
local function current(c)
  return c ~= nil and (c.observedGeneration == nil or generation == nil or c.observedGeneration >= generation)
end

if current(stalled) and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = text(stalled, "Stalled")
  return hs
end
if current(reconciling) and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = text(reconciling, "Reconciling")
  return hs
end
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = text(ready, "Suspended: no new refresh starts until spec.suspend is false")
  return hs
end
if current(ready) and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready, "Refreshed")
  return hs
end
hs.message = text(ready, hs.message)
return hs
