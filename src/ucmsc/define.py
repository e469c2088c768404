"""Define-XML 2.1 for the ADaM datasets, from resolved metadata frames.

``define_xml(metadata, study)`` returns the document text (pure, deterministic: the same input gives the same
bytes; CreationDateTime is ``study["CREATED"]``); ``write_define`` writes it as UTF-8; ``described`` reads a
define.xml back as dataset -> variable names. ``metadata`` is any object with the frames ``datasets``,
``variables``, ``codelists`` and ``parameters`` (columns as in the pipeline's metadata interface); ``study`` a
dict with STUDYID, NAME, DESCRIPTION, PROTOCOL and CREATED.

Comments cite the CDISC Define-XML v2.1 specification by the name of its element section ("spec: ItemDef"); element
order follows its schema (define-extension.xsd over ODM 1.3.2). Value-level metadata (VLM) describes AVAL per
PARAMCD of a BDS dataset. Identical derivation texts share one MethodDef, named by the first variable (or parameter)
that uses it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pandas as pd

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STANDARD_OID = "STD.ADaMIG.1.1"
# SAS numeric dates and datetimes are integers with a display format (the CDISC ADaM pilot's define.xml); Define-XML's
# "date" and "datetime" data types mean ISO 8601 text.
DATA_TYPES = {"text": "text", "integer": "integer", "float": "float", "date": "integer", "datetime": "integer"}
DISPLAY_FORMATS = {"date": "DATE9.", "datetime": "DATETIME20."}
ORIGINS = ("Predecessor", "Derived", "Assigned")
PARAMETER_TYPES = ("float", "integer")
PARAMETER_ORIGINS = ("Derived", "Predecessor")
SUBJECT_LEVEL = "SUBJECT LEVEL ANALYSIS DATASET"
STYLESHEET = '<?xml-stylesheet type="text/xsl" href="define2-1.xsl"?>'
_SAS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_COLUMNS = {
    "datasets": ["DATASET", "LABEL", "CLASS", "SUBCLASS", "STRUCTURE", "KEYS", "FILE", "RECORDS"],
    "variables": ["DATASET", "VARIABLE", "LABEL", "TYPE", "LENGTH", "CODELIST", "ORIGIN", "SOURCE", "DERIVATION",
                  "MANDATORY", "ORDER"],
    "codelists": ["CODELIST", "NAME", "TERM", "DECODE"],
    "parameters": ["DATASET", "PARAMCD", "PARAM", "AVALU", "TYPE", "ORIGIN", "DERIVATION"],
}

ET.register_namespace("def", DEF_NS)
ET.register_namespace("xlink", XLINK_NS)


def _odm(tag: str) -> str:
    """An ODM element: unqualified while built, in the default namespace the root declares (``xmlns``)."""
    return tag


def _def(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


def _text(value) -> str:
    """A cell as stripped text; missing (None, NaN, NA) is ""."""
    return "" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value).strip()


def _records(metadata, name: str) -> list[dict]:
    """The rows of one metadata frame as dicts of text (numbers converted later), columns checked."""
    frame = getattr(metadata, name, None)
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"metadata.{name}: expected a DataFrame, got {type(frame).__name__}")
    missing = [c for c in _COLUMNS[name] if c not in frame.columns]
    if missing and len(frame):
        raise ValueError(f"metadata.{name}: missing columns {missing}")
    return [{c: _text(row.get(c)) for c in _COLUMNS[name]} for row in frame.to_dict("records")]


def _integer(value: str, where: str) -> int:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or number < 0:
        raise ValueError(f"{where}: expected a whole number >= 0, got {value!r}")
    return int(number)


def _check_name(name: str, where: str, what: str) -> None:
    # spec: ItemGroupDef/ItemDef SASDatasetName, SASFieldName: SAS V5 transport names, at most 8 characters
    if len(name) > 8:
        raise ValueError(f"{where}: {what} {name!r} is longer than 8 characters")
    if not _SAS_NAME.match(name):
        raise ValueError(f"{where}: {what} {name!r} is not a SAS name (letters, digits, underscore)")


def _check_label(label: str, where: str) -> None:
    # SAS V5 transport (the def:leaf files): labels at most 40 characters
    if len(label) > 40:
        raise ValueError(f"{where}: label longer than 40 characters ({len(label)}): {label!r}")


def _one_of(value: str, allowed: list, where: str, field: str) -> None:
    if value not in allowed:
        raise ValueError(f"{where}: unknown {field} {value!r} (expected one of {allowed})")


def _validate(datasets: list[dict], variables: list[dict], codelists: list[dict], parameters: list[dict]) -> None:
    """Raise ValueError, naming dataset and variable (or parameter), for metadata define.xml cannot describe."""
    names = [d["DATASET"] for d in datasets]
    codelist_ids = {c["CODELIST"] for c in codelists}
    for d in datasets:
        _check_name(d["DATASET"], d["DATASET"], "dataset name")
        _check_label(d["LABEL"], d["DATASET"])
        if names.count(d["DATASET"]) > 1:
            raise ValueError(f"{d['DATASET']}: dataset listed twice")
        if not d["FILE"]:
            raise ValueError(f"{d['DATASET']}: no FILE for def:leaf")
        _integer(d["RECORDS"], f"{d['DATASET']}: RECORDS")
    seen, orders = set(), set()
    for v in variables:
        where = f"{v['DATASET']}.{v['VARIABLE']}"
        if v["DATASET"] not in names:
            raise ValueError(f"{where}: dataset {v['DATASET']!r} not in metadata.datasets")
        _check_name(v["VARIABLE"], where, "variable name")
        _check_label(v["LABEL"], where)
        if (v["DATASET"], v["VARIABLE"]) in seen:
            raise ValueError(f"{where}: variable listed twice")
        seen.add((v["DATASET"], v["VARIABLE"]))
        _one_of(v["TYPE"], sorted(DATA_TYPES), where, "TYPE")
        _one_of(v["ORIGIN"], list(ORIGINS), where, "ORIGIN")
        if v["CODELIST"] and v["CODELIST"] not in codelist_ids:
            raise ValueError(f"{where}: CODELIST {v['CODELIST']!r} not in metadata.codelists")
        # spec: def:Origin: Derived is described by a MethodDef, Predecessor by the predecessor variable
        if v["ORIGIN"] == "Derived" and not v["DERIVATION"]:
            raise ValueError(f"{where}: Derived variable without DERIVATION")
        if v["ORIGIN"] == "Predecessor" and not v["SOURCE"]:
            raise ValueError(f"{where}: Predecessor variable without SOURCE")
        if v["MANDATORY"] not in ("Yes", "No"):
            raise ValueError(f"{where}: MANDATORY must be Yes or No, got {v['MANDATORY']!r}")
        _integer(v["LENGTH"], f"{where}: LENGTH")
        order = _integer(v["ORDER"], f"{where}: ORDER")
        if (v["DATASET"], order) in orders:
            raise ValueError(f"{where}: ORDER {order} used twice in {v['DATASET']}")
        orders.add((v["DATASET"], order))
    for d in datasets:
        for key in _keys(d):
            if (d["DATASET"], key) not in seen:
                raise ValueError(f"{d['DATASET']}.{key}: KEYS variable not among the dataset's variables")
    seen_params = set()
    for p in parameters:
        where = f"{p['DATASET']} PARAMCD {p['PARAMCD']}"
        if not {(p["DATASET"], "PARAMCD"), (p["DATASET"], "AVAL")} <= seen:
            raise ValueError(f"{where}: value-level metadata for a dataset without PARAMCD and AVAL variables")
        _check_name(p["PARAMCD"], where, "PARAMCD")  # ADaMIG 1.1: PARAMCD at most 8 characters
        if (p["DATASET"], p["PARAMCD"]) in seen_params:
            raise ValueError(f"{where}: parameter listed twice")
        seen_params.add((p["DATASET"], p["PARAMCD"]))
        _one_of(p["TYPE"], list(PARAMETER_TYPES), where, "TYPE")
        _one_of(p["ORIGIN"], list(PARAMETER_ORIGINS), where, "ORIGIN")
        if not p["DERIVATION"]:
            raise ValueError(f"{where}: parameter without DERIVATION")


def _keys(dataset: dict) -> list[str]:
    return [k.strip() for k in dataset["KEYS"].split(",") if k.strip()]


def _attrs(attrib: dict | None) -> dict[str, str]:
    """Attributes as text, in insertion order; those whose value is None are left out."""
    return {k: str(v) for k, v in (attrib or {}).items() if v is not None}


def _new(tag: str, attrib: dict | None = None) -> ET.Element:
    return ET.Element(tag, _attrs(attrib))


def _sub(parent: ET.Element, tag: str, attrib: dict | None = None, text: str | None = None) -> ET.Element:
    """A child element with ``attrib`` (see ``_attrs``) and ``text``."""
    element = ET.SubElement(parent, tag, _attrs(attrib))
    element.text = text
    return element


def _description(parent: ET.Element, text: str) -> None:
    # spec: Description: one TranslatedText, with xml:lang
    _sub(_sub(parent, _odm("Description")), _odm("TranslatedText"), {XML_LANG: "en"}, text)


class _Methods:
    """MethodDefs by derivation text: the first user names it; later identical texts share it."""

    def __init__(self) -> None:
        self.defs: dict[str, tuple[str, str]] = {}  # text -> (OID, Name)

    def oid(self, text: str, oid: str, name: str) -> str:
        return self.defs.setdefault(text, (oid, name))[0]


def _origin(parent: ET.Element, origin: str, predecessor: str) -> None:
    # spec: def:Origin: Predecessor carries the predecessor variable as its Description
    element = _sub(parent, _def("Origin"), {"Type": origin})
    if origin == "Predecessor":
        _description(element, predecessor)


def _value_level(name: str, params: list[dict], length: int, methods: _Methods):
    """The ValueListDef of ``name``.AVAL, a WhereClauseDef and an ItemDef per PARAMCD."""
    # spec: def:ValueListDef, def:WhereClauseDef: value-level metadata of AVAL, one where clause per PARAMCD
    value_list = _new(_def("ValueListDef"), {"OID": f"VL.{name}.AVAL"})
    wheres, items = [], []
    for order, p in enumerate(params, start=1):
        code = p["PARAMCD"]
        item_oid, where_oid = f"IT.{name}.AVAL.{code}", f"WC.{name}.PARAMCD.{code}"
        method = (methods.oid(p["DERIVATION"], f"MT.{name}.AVAL.{code}", f"{name}.AVAL.{code}")
                  if p["ORIGIN"] == "Derived" else None)
        ref = _sub(value_list, _odm("ItemRef"), {
            "ItemOID": item_oid, "OrderNumber": order, "Mandatory": "No", "MethodOID": method})
        _sub(ref, _def("WhereClauseRef"), {"WhereClauseOID": where_oid})
        where = _new(_def("WhereClauseDef"), {"OID": where_oid})
        # spec: RangeCheck: def:ItemOID names the variable the condition tests
        check = _sub(where, _odm("RangeCheck"), {
            "Comparator": "EQ", "SoftHard": "Soft", _def("ItemOID"): f"IT.{name}.PARAMCD"})
        _sub(check, _odm("CheckValue"), text=code)
        wheres.append(where)
        item = _new(_odm("ItemDef"), {
            "OID": item_oid, "Name": "AVAL", "SASFieldName": "AVAL", "DataType": DATA_TYPES[p["TYPE"]],
            "Length": length})
        _description(item, p["PARAM"])
        _origin(item, p["ORIGIN"], p["DERIVATION"])
        items.append(item)
    return value_list, wheres, items


def define_xml(metadata, study: dict, stylesheet: bool = False) -> str:
    """The Define-XML 2.1 document for the ADaM datasets of ``metadata`` (see the module docstring)."""
    datasets, variables = _records(metadata, "datasets"), _records(metadata, "variables")
    codelists, parameters = _records(metadata, "codelists"), _records(metadata, "parameters")
    _validate(datasets, variables, codelists, parameters)
    missing = [k for k in ("STUDYID", "NAME", "DESCRIPTION", "PROTOCOL", "CREATED") if not _text(study.get(k))]
    if missing:
        raise ValueError(f"study: missing {missing}")
    created = _text(study["CREATED"])
    try:
        datetime.fromisoformat(created)
    except ValueError as error:
        raise ValueError(f"study: CREATED {created!r} is not an ISO 8601 datetime") from error
    studyid = _text(study["STUDYID"])

    # spec: ODM: FileType Snapshot, ODMVersion 1.3.2, def:Context Submission
    root = _new(_odm("ODM"), {
        "xmlns": ODM_NS, "FileType": "Snapshot", "FileOID": f"DEFINE.{studyid}.ADAM", "ODMVersion": "1.3.2",
        "CreationDateTime": created, _def("Context"): "Submission"})
    study_el = _sub(root, _odm("Study"), {"OID": f"STUDY.{studyid}"})
    globals_el = _sub(study_el, _odm("GlobalVariables"))
    _sub(globals_el, _odm("StudyName"), text=_text(study["NAME"]))
    _sub(globals_el, _odm("StudyDescription"), text=_text(study["DESCRIPTION"]))
    _sub(globals_el, _odm("ProtocolName"), text=_text(study["PROTOCOL"]))
    # spec: MetaDataVersion: def:DefineVersion 2.1.0
    mdv = _sub(study_el, _odm("MetaDataVersion"), {
        "OID": f"MDV.{studyid}.ADaMIG.1.1", "Name": f"{_text(study['NAME'])} ADaM Data Definitions",
        _def("DefineVersion"): "2.1.0"})
    # spec: def:Standards: the IG every ItemGroupDef's def:StandardOID points to
    _sub(_sub(mdv, _def("Standards")), _def("Standard"), {
        "OID": STANDARD_OID, "Name": "ADaMIG", "Type": "IG", "Version": "1.1", "Status": "Final"})

    by_dataset = {d["DATASET"]: sorted((v for v in variables if v["DATASET"] == d["DATASET"]),
                                       key=lambda v: int(float(v["ORDER"]))) for d in datasets}
    params_of = {d["DATASET"]: [p for p in parameters if p["DATASET"] == d["DATASET"]] for d in datasets}
    methods = _Methods()
    item_groups, item_defs, value_lists, where_clauses = [], [], [], []

    for d in datasets:
        name, keys = d["DATASET"], _keys(d)
        # spec: ItemGroupDef: def:Class is a child element in 2.1 (an attribute in 2.0), def:leaf the last child
        group = _new(_odm("ItemGroupDef"), {
            "OID": f"IG.{name}", "Name": name, "SASDatasetName": name,
            "Repeating": "No" if d["CLASS"] == SUBJECT_LEVEL else "Yes", "IsReferenceData": "No",
            "Purpose": "Analysis", _def("Structure"): d["STRUCTURE"], _def("StandardOID"): STANDARD_OID,
            _def("ArchiveLocationID"): f"LF.{name}",
            _def("HasNoData"): "Yes" if _integer(d["RECORDS"], name) == 0 else None})
        _description(group, d["LABEL"])
        for v in by_dataset[name]:
            item_oid = f"IT.{name}.{v['VARIABLE']}"
            method = (methods.oid(v["DERIVATION"], f"MT.{name}.{v['VARIABLE']}", f"{name}.{v['VARIABLE']}")
                      if v["ORIGIN"] in ("Derived", "Assigned") and v["DERIVATION"] else None)
            # spec: ItemRef: KeySequence in the order of the dataset's keys
            _sub(group, _odm("ItemRef"), {
                "ItemOID": item_oid, "OrderNumber": int(float(v["ORDER"])), "Mandatory": v["MANDATORY"],
                "KeySequence": keys.index(v["VARIABLE"]) + 1 if v["VARIABLE"] in keys else None,
                "MethodOID": method})
            # spec: ItemDef: numeric dates as integers of length 8 with def:DisplayFormat
            item = _new(_odm("ItemDef"), {
                "OID": item_oid, "Name": v["VARIABLE"], "SASFieldName": v["VARIABLE"],
                "DataType": DATA_TYPES[v["TYPE"]],
                "Length": 8 if v["TYPE"] in DISPLAY_FORMATS else _integer(v["LENGTH"], f"{item_oid}: LENGTH"),
                _def("DisplayFormat"): DISPLAY_FORMATS.get(v["TYPE"])})
            _description(item, v["LABEL"])
            if v["CODELIST"]:
                _sub(item, _odm("CodeListRef"), {"CodeListOID": f"CL.{v['CODELIST']}"})
            _origin(item, v["ORIGIN"], v["SOURCE"])
            if v["VARIABLE"] == "AVAL" and params_of[name]:
                _sub(item, _def("ValueListRef"), {"ValueListOID": f"VL.{name}.AVAL"})
            item_defs.append(item)
        class_el = _sub(group, _def("Class"), {"Name": d["CLASS"]})
        if d["SUBCLASS"]:
            _sub(class_el, _def("SubClass"), {"Name": d["SUBCLASS"]})
        # spec: def:leaf: the transport file (xlink:href) and its def:title
        leaf = _sub(group, _def("leaf"), {"ID": f"LF.{name}", f"{{{XLINK_NS}}}href": d["FILE"]})
        _sub(leaf, _def("title"), text=d["FILE"])
        item_groups.append(group)
        if params_of[name]:
            aval = next(v for v in by_dataset[name] if v["VARIABLE"] == "AVAL")
            value_list, wheres, items = _value_level(name, params_of[name], _integer(aval["LENGTH"], name), methods)
            value_lists.append(value_list)
            where_clauses += wheres
            item_defs += items

    # spec: CodeList: CodeListItem (with Decode) or EnumeratedItem, not both in one list
    code_lists = []
    for cl_id in dict.fromkeys(c["CODELIST"] for c in codelists):
        terms = [c for c in codelists if c["CODELIST"] == cl_id]
        code_list = _new(_odm("CodeList"), {"OID": f"CL.{cl_id}", "Name": terms[0]["NAME"] or cl_id,
                                                  "DataType": "text"})
        decoded = any(t["DECODE"] for t in terms)
        for t in terms:
            if decoded:
                item = _sub(code_list, _odm("CodeListItem"), {"CodedValue": t["TERM"]})
                _sub(_sub(item, _odm("Decode")), _odm("TranslatedText"), {XML_LANG: "en"}, t["DECODE"] or t["TERM"])
            else:
                _sub(code_list, _odm("EnumeratedItem"), {"CodedValue": t["TERM"]})
        code_lists.append(code_list)

    # spec: MethodDef
    method_defs = []
    for text, (oid, user) in methods.defs.items():
        method = _new(_odm("MethodDef"), {"OID": oid, "Name": f"Algorithm for {user}", "Type": "Computation"})
        _description(method, text)
        method_defs.append(method)

    # spec: MetaDataVersion children: Standards, ValueListDef*, WhereClauseDef*, ItemGroupDef*, ItemDef*, CodeList*,
    # MethodDef* (each dataset's ItemDefs, then its value-level ItemDefs)
    mdv.extend(value_lists + where_clauses + item_groups + item_defs + code_lists + method_defs)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' + (STYLESHEET + "\n" if stylesheet else "")
    return head + body + "\n"


def write_define(metadata, study: dict, path: str | Path, stylesheet: bool = False) -> Path:
    """Write ``define_xml(metadata, study)`` to ``path`` as UTF-8; return the path."""
    path = Path(path)
    path.write_bytes(define_xml(metadata, study, stylesheet=stylesheet).encode("utf-8"))
    return path


def described(define_text: str | bytes) -> dict[str, list[str]]:
    """Dataset name -> the names of the variables its ItemGroupDef references (ItemRef -> ItemDef), in order."""
    root = ET.fromstring(define_text.encode("utf-8") if isinstance(define_text, str) else define_text)
    ns = {"odm": ODM_NS}
    names = {item.get("OID"): item.get("Name") for item in root.iterfind(".//odm:ItemDef", ns)}
    result = {}
    for group in root.iterfind(".//odm:ItemGroupDef", ns):
        oids = [ref.get("ItemOID") for ref in group.iterfind("odm:ItemRef", ns)]
        if unknown := [oid for oid in oids if oid not in names]:
            raise ValueError(f"{group.get('Name')}: ItemRef to no ItemDef: {unknown}")
        result[group.get("Name")] = [names[oid] for oid in oids]
    return result
