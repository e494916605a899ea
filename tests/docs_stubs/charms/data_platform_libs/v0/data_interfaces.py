"""A small stand-in for `charms.data_platform_libs.v0.data_interfaces`, for the docs check.

Migration guides show "before" code written against `DataPeerData`. The docs check
(tests/scenario/test_docs.py) puts this folder on the path so that such code
type-checks and runs without the real library. It keeps the real signatures for the
calls the docs use, and a simple version of the behaviour: plain fields in the peer
relation's application databag, secret fields in one application-owned secret.
"""

from __future__ import annotations

import ops


class DataPeerData:
    """Peer relation data: the subset of the real class that the docs use."""

    SECRET_FIELD_NAME = "internal_secret"

    def __init__(
        self,
        model: ops.Model,
        relation_name: str,
        extra_user_roles: str | None = None,
        additional_secret_fields: list[str] | None = None,
        additional_secret_group_mapping: dict[str, str] | None = None,
        secret_field_name: str | None = None,
        deleted_label: str | None = None,
    ):
        self._model = model
        self.relation_name = relation_name
        self.secret_fields = list(additional_secret_fields or [])
        self.secret_field_name = secret_field_name or self.SECRET_FIELD_NAME
        self.deleted_label = deleted_label

    @property
    def _secret_label(self) -> str:
        return f"{self.relation_name}.{self._model.app.name}.app"

    def _relation(self, relation_id: int, relation_name: str | None = None) -> ops.Relation:
        relation = self._model.get_relation(relation_name or self.relation_name, relation_id)
        if relation is None:
            raise ops.RelationNotFoundError
        return relation

    def _secret_content(self) -> dict[str, str]:
        try:
            return self._model.get_secret(label=self._secret_label).get_content(refresh=True)
        except ops.SecretNotFoundError:
            return {}

    def fetch_my_relation_field(
        self, relation_id: int, field: str, relation_name: str | None = None
    ) -> str | None:
        """Read one of this application's fields (a secret field from the secret)."""
        if field in self.secret_fields:
            return self._secret_content().get(field)
        return self._relation(relation_id, relation_name).data[self._model.app].get(field)

    def fetch_relation_field(
        self, relation_id: int, field: str, relation_name: str | None = None
    ) -> str | None:
        """Read a field of the relation's application; for a peer relation, this one's."""
        return self.fetch_my_relation_field(relation_id, field, relation_name)

    def update_relation_data(self, relation_id: int, data: dict[str, str]) -> None:
        """Write fields (leader only); secret fields go to the application's secret."""
        plain = {key: value for key, value in data.items() if key not in self.secret_fields}
        hidden = {key: value for key, value in data.items() if key in self.secret_fields}
        self._relation(relation_id).data[self._model.app].update(plain)
        if not hidden:
            return
        try:
            secret = self._model.get_secret(label=self._secret_label)
        except ops.SecretNotFoundError:
            self._model.app.add_secret(hidden, label=self._secret_label)
        else:
            secret.set_content({**secret.get_content(refresh=True), **hidden})

    def delete_relation_data(self, relation_id: int, fields: list[str]) -> None:
        """Delete plain fields (leader only)."""
        self._relation(relation_id).data[self._model.app].update(dict.fromkeys(fields, ""))
