from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_table: str = Field(description="The kind of record the file belongs to")
    owner_id: str
    purpose: str
    file_name: str | None = Field(description="The name it was uploaded with (blank for roles that do not see "
                                              "case notes); downloads carry a cleaned form of it")
    media_type: str = Field(description="The type as stored: image/jpeg (HEIC photos too), image/png, "
                                        "application/pdf")
    size: int = Field(description="Bytes")
    sha256: str
    width: int | None = None
    height: int | None = None
    thumbnail: bool = Field(description="Images have a JPEG thumbnail at .../thumbnail")
    child: bool = Field(False, description="The file is about a child under 14: only the roles that work "
                                           "with the person may download it")
    station_id: int
    version: int
    created_at: datetime
    created_by: str | None = None


class AttachmentList(BaseModel):
    items: list[AttachmentRead]


class EvidenceGap(BaseModel):
    """A record a contract target counts that lacks the file an evaluation checks for it."""

    record: str = Field(description="group_session, activity or case")
    id: str
    on: date = Field(description="When it was held (a session, an activity) or closed (a case)")
    lacking: str = Field(description="The file it lacks: sign_in_sheet, closure_report")
