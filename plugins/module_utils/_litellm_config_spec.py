# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of litellm_config, shared by its action plugin and its documentation module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ARGUMENT_SPEC = dict(
    registry=dict(type="dict", required=True),
    gateway_host=dict(type="str"),
    inference_hosts=dict(type="list", elements="str"),
    dest=dict(type="path"),
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="raw", default="0640"),
    backups=dict(type="int", default=10),
    master_key=dict(type="str", no_log=True),
    validate_only=dict(type="bool", default=False),
    known=dict(type="dict"),
)
REQUIRED_IF = [("validate_only", False, ("dest",))]
