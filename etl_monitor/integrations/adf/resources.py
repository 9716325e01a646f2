"""The linked services and datasets the ADF pipelines reference, in ADF's JSON.

No secret is written in any of them: the Databricks access tokens are Azure Key Vault
secret references (the vault's URL and the secret's name are linked-service parameters),
and the storage account is reached with the factory's managed identity. Every value that
differs between factories (workspace URL, cluster, vault, storage account) is a
linked-service or dataset parameter that the pipelines fill in from their own
parameters, so the files import unchanged.

Linked services:

- ``ls_key_vault`` (``AzureKeyVault``): where the Databricks tokens are kept.
- ``ls_databricks`` (``AzureDatabricks``): the notebook activities, each on a new job
  cluster (runtime version, node type, workers and ``dataSecurityMode``, default
  ``SINGLE_USER`` so that the cluster reaches Unity Catalog, are parameters).
- ``ls_databricks_existing_cluster`` (``AzureDatabricks``): the same on an existing
  cluster (``ClusterId``); point the notebook activities at it to skip the job clusters'
  start-up. Both declare the same parameters (`NOTEBOOK_LS_PARAMETERS`; each ignores the
  other's cluster settings), so changing the activities' ``referenceName`` is the whole
  switch.
- ``ls_databricks_delta_lake`` (``AzureDatabricksDeltaLake``): the Lookup queries, run on
  an existing cluster.
- ``ls_adls`` (``AzureBlobFS``): ADLS Gen2 for the Copy, managed-identity authentication.

Datasets: ``ds_databricks_delta_lake`` (the Lookups' dataset) and ``ds_source_file`` /
``ds_landing_file`` (``Binary`` files on ADLS Gen2: the Copy lands a task's source file,
``InFilePath`` + ``FullFileName``, unchanged in ``OutFilePath``).
"""

from __future__ import annotations

from typing import Any

KEY_VAULT = "ls_key_vault"
NOTEBOOK_LINKED_SERVICE = "ls_databricks"
EXISTING_CLUSTER_LINKED_SERVICE = "ls_databricks_existing_cluster"
SQL_LINKED_SERVICE = "ls_databricks_delta_lake"
STORAGE_LINKED_SERVICE = "ls_adls"
LOOKUP_DATASET = "ds_databricks_delta_lake"
SOURCE_DATASET = "ds_source_file"
LANDING_DATASET = "ds_landing_file"

#: Job-cluster settings: the defaults of the pipelines' parameters of the same meaning.
JOB_CLUSTER_DEFAULTS = {
    "ClusterVersion": "15.4.x-scala2.12",
    "NodeType": "Standard_D4ds_v5",
    "Workers": "1",
}
#: The job cluster's data security mode (``dataSecurityMode``): single user reaches Unity Catalog.
DATA_SECURITY_MODE = "SINGLE_USER"
#: Parameters of both notebook linked services (the same names, so either can be referenced
#: by the same activities; each uses its own cluster settings and ignores the other's).
NOTEBOOK_LS_PARAMETERS = (
    "WorkspaceUrl",
    "VaultUrl",
    "TokenSecretName",
    *JOB_CLUSTER_DEFAULTS,
    "DataSecurityMode",
    "ClusterId",
)
#: The file location parameters of the Copy's datasets.
FILE_PARAMETERS = ("StorageUrl", "FileSystem", "FolderPath", "FileName")


def ls(name: str) -> str:
    """``@linkedService().<name>``: a linked-service parameter inside its own definition."""
    return f"@{{linkedService().{name}}}"


def ds(name: str) -> str:
    """``@dataset().<name>``: a dataset parameter inside its own definition."""
    return f"@dataset().{name}"


def reference(name: str, kind: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """A reference to another ADF resource.

    Args:
        name: the referenced resource's name.
        kind: ``LinkedServiceReference``, ``DatasetReference`` or ``PipelineReference``.
        parameters: values for the referenced resource's parameters, if any.

    Returns:
        ``{"referenceName": name, "type": kind[, "parameters": ...]}``.
    """
    ref: dict[str, Any] = {"referenceName": name, "type": kind}
    if parameters:
        ref["parameters"] = parameters
    return ref


def _string_parameters(names: tuple[str, ...] | list[str]) -> dict[str, dict[str, str]]:
    return {name: {"type": "String"} for name in names}


def _notebook_parameters() -> dict[str, dict[str, str]]:
    out = _string_parameters(NOTEBOOK_LS_PARAMETERS)
    out["DataSecurityMode"]["defaultValue"] = DATA_SECURITY_MODE
    return out


def _token() -> dict[str, Any]:
    """The Databricks access token: a Key Vault secret, vault and name from parameters."""
    return {
        "type": "AzureKeyVaultSecret",
        "store": reference(
            KEY_VAULT, "LinkedServiceReference", {"VaultUrl": "@linkedService().VaultUrl"}
        ),
        "secretName": {"value": "@linkedService().TokenSecretName", "type": "Expression"},
    }


def _notebook_service(name: str, description: str, cluster: dict[str, Any]) -> dict[str, Any]:
    """An AzureDatabricks linked service for the notebooks; `cluster` says which cluster runs them.

    Both notebook linked services declare the same parameters, so an activity moves from
    one to the other by its ``referenceName`` alone.
    """
    return {
        "name": name,
        "properties": {
            "description": description,
            "parameters": _notebook_parameters(),
            "type": "AzureDatabricks",
            "typeProperties": {"domain": ls("WorkspaceUrl"), "accessToken": _token(), **cluster},
        },
    }


def linked_services() -> list[dict[str, Any]]:
    """Every linked service the pipelines use.

    Returns:
        ADF Git-mode files, each ``{"name": ..., "properties": ...}``.
    """
    return [
        {
            "name": KEY_VAULT,
            "properties": {
                "description": "Azure Key Vault holding the Databricks access tokens.",
                "parameters": _string_parameters(["VaultUrl"]),
                "type": "AzureKeyVault",
                "typeProperties": {"baseUrl": ls("VaultUrl")},
            },
        },
        _notebook_service(
            NOTEBOOK_LINKED_SERVICE,
            "Azure Databricks for the notebook activities: a new job cluster per run.",
            {
                "newClusterVersion": ls("ClusterVersion"),
                "newClusterNodeType": ls("NodeType"),
                "newClusterNumOfWorker": ls("Workers"),
                "dataSecurityMode": ls("DataSecurityMode"),
            },
        ),
        _notebook_service(
            EXISTING_CLUSTER_LINKED_SERVICE,
            "Azure Databricks for the notebook activities on an existing cluster.",
            {"existingClusterId": ls("ClusterId")},
        ),
        {
            "name": SQL_LINKED_SERVICE,
            "properties": {
                "description": "Azure Databricks Delta Lake for the Lookup queries (an existing cluster).",
                "parameters": _string_parameters(
                    ["WorkspaceUrl", "VaultUrl", "TokenSecretName", "ClusterId"]
                ),
                "type": "AzureDatabricksDeltaLake",
                "typeProperties": {
                    "domain": ls("WorkspaceUrl"),
                    "clusterId": ls("ClusterId"),
                    "accessToken": _token(),
                },
            },
        },
        {
            "name": STORAGE_LINKED_SERVICE,
            "properties": {
                "description": "ADLS Gen2 for the Copy; the factory's managed identity authenticates.",
                "parameters": _string_parameters(["StorageUrl"]),
                "type": "AzureBlobFS",
                "typeProperties": {"url": ls("StorageUrl")},
            },
        },
    ]


def _file_dataset(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "description": description,
            "linkedServiceName": reference(
                STORAGE_LINKED_SERVICE,
                "LinkedServiceReference",
                {"StorageUrl": {"value": ds("StorageUrl"), "type": "Expression"}},
            ),
            "parameters": _string_parameters(FILE_PARAMETERS),
            "type": "Binary",
            "typeProperties": {
                "location": {
                    "type": "AzureBlobFSLocation",
                    "fileSystem": {"value": ds("FileSystem"), "type": "Expression"},
                    "folderPath": {"value": ds("FolderPath"), "type": "Expression"},
                    "fileName": {"value": ds("FileName"), "type": "Expression"},
                }
            },
        },
    }


def datasets() -> list[dict[str, Any]]:
    """Every dataset the pipelines use.

    Returns:
        ADF Git-mode files, each ``{"name": ..., "properties": ...}``.
    """
    delta_lake_ls = {
        name: {"value": ds(name), "type": "Expression"}
        for name in ("WorkspaceUrl", "VaultUrl", "TokenSecretName", "ClusterId")
    }
    return [
        {
            "name": LOOKUP_DATASET,
            "properties": {
                "description": "The etl_monitor views, read by the Lookup activities' queries.",
                "linkedServiceName": reference(
                    SQL_LINKED_SERVICE, "LinkedServiceReference", delta_lake_ls
                ),
                "parameters": _string_parameters(list(delta_lake_ls)),
                "type": "AzureDatabricksDeltaLakeDataset",
                "typeProperties": {},
            },
        },
        _file_dataset(SOURCE_DATASET, "A task's source file: InFilePath + FullFileName."),
        _file_dataset(LANDING_DATASET, "Where a task's file lands: OutFilePath + FullFileName."),
    ]
