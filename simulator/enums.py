"""The platform's metric and dimension enums, as the vendor's SDK carries them.

Sources: the SDK models generated from the platform's API definition. The Python SDK types the
metric lists of ``QueueObservationQuery`` and ``ConversationAggregationQuery`` as plain strings; the
Java SDK, generated from the same definition, spells their enums (``QueueObservationQuery.md``,
platform-client-v2 264.1.0; ``ConversationAggregationQuery.md``, 259.0.0). The activity-query enums
are in the Python SDK itself (``ConversationActivityQueryMetric``, ``RoutingActivityQueryMetric``,
``*ActivityQueryPredicate.dimension``). ``tests/contract_sdk`` checks the last against the
installed SDK.
"""

from __future__ import annotations

from typing import Final

OBSERVATION_METRICS: Final = (
    "oActiveUsers", "oAlerting", "oInteracting", "oLongestInteracting", "oLongestWaiting", "oMemberUsers",
    "oOffQueueUsers", "oOnQueueUsers", "oUserPresences", "oUserRoutingStatuses", "oWaiting",
)
"""``QueueObservationQuery.metrics``."""

OBSERVATION_DETAIL_METRICS: Final = tuple(m for m in OBSERVATION_METRICS if not m.startswith("oLongest"))
"""``QueueObservationQuery.detailMetrics`` (the same without the two ``oLongest*``)."""

AGGREGATE_METRICS: Final = (
    "nBlindTransferred", "nBotInteractions", "nCallbackAttempts", "nCallbackOverSla", "nCallbackScheduled",
    "nCfcOffered", "nCobrowseSessions", "nConnected", "nConsult", "nConsultTransferred", "nConversations",
    "nError", "nOffered", "nOutbound", "nOutboundAbandoned", "nOutboundAttempted", "nOutboundConnected",
    "nOverSla", "nStateTransitionError", "nTakeover", "nTransferred", "oAudioMessageCount",
    "oCallbackServiceLevel", "oExternalAudioMessageCount", "oExternalMediaCount", "oMediaCount", "oMessageCount",
    "oMessageSegmentCount", "oMessageTurn", "oServiceLevel", "oServiceTarget", "oSkillExpressionApplications",
    "tAbandon", "tAcd", "tActiveCallback", "tActiveCallbackComplete", "tAcw", "tAgentResponseTime",
    "tAgentVideoConnected", "tAlert", "tAnswered", "tAverageAgentResponseTime", "tAverageCustomerResponseTime",
    "tBarging", "tCallbackAbandon", "tCallbackConnect", "tCallbackNotReached", "tCallbackVirtualWait",
    "tCfcAbandon", "tCfcAcd", "tCfcAnswered", "tCfcFlowOut", "tCoaching", "tCoachingComplete", "tConnected",
    "tContacting", "tDialing", "tFirstConnect", "tFirstDial", "tFirstEngagement", "tFirstResponse", "tFlowOut",
    "tHandle", "tHeld", "tHeldComplete", "tIvr", "tMonitoring", "tMonitoringComplete", "tNotResponding", "tPark",
    "tParkComplete", "tScreenMonitoring", "tShortAbandon", "tSnippetRecord", "tTalk", "tTalkComplete",
    "tTransmitting", "tUserResponseTime", "tVoicemail", "tWait",
)
"""``ConversationAggregationQuery.metrics``."""

CONVERSATION_ACTIVITY_METRICS: Final = (
    "oAlerting", "oInteracting", "oLongestInteracting", "oLongestWaiting", "oWaiting",
)
"""``ConversationActivityQueryMetric.metric``."""

ROUTING_ACTIVITY_METRICS: Final = (
    "oActiveUsers", "oMemberUsers", "oOffQueueUsers", "oOnQueueUsers", "oUserPresences", "oUserRoutingStatuses",
)
"""``RoutingActivityQueryMetric.metric``."""

AGGREGATE_DIMENSIONS: Final = (
    "activeRouting", "activeSkillId", "addressFrom", "addressTo", "agentAssistantId", "agentBullseyeRing",
    "agentOwned", "agentRank", "agentScore", "ani", "assignerId", "authenticated", "canonicalExternalContactId",
    "conversationId", "conversationInitiator", "convertedFrom", "convertedTo", "customerParticipation",
    "deliveryStatus", "destinationAddress", "direction", "disconnectType", "divisionId", "dnis", "edgeId",
    "eligibleAgentCount", "errorCode", "extendedDeliveryStatus", "externalContactId", "externalMediaCount",
    "externalOrganizationId", "externalTag", "firstQueue", "flaggedReason", "flowInType", "flowOutType",
    "groupId", "interactionType", "journeyActionId", "journeyActionMapId", "journeyActionMapVersion",
    "journeyCustomerId", "journeyCustomerIdType", "journeyCustomerSessionId", "journeyCustomerSessionIdType",
    "knowledgeBaseId", "mediaCount", "mediaType", "messageType", "originatingDirection",
    "originatingSocialMediaPublic", "outboundCampaignId", "outboundContactId", "outboundContactListId",
    "participantName", "peerId", "proposedAgentId", "provider", "purpose", "queueId", "remote",
    "removedSkillId", "requestedLanguageId", "requestedRouting", "requestedRoutingSkillId", "roomId",
    "routingPriority", "routingRing", "routingRule", "routingRuleType", "scoredAgentId", "selectedAgentId",
    "selectedAgentRank", "selfServed", "sessionDnis", "sessionId", "skillExpressionId", "stationId", "teamId",
    "usedRouting", "userId", "videoPresent", "waitingInteractionCount", "wrapUpCode",
)
"""``ConversationAggregateQueryPredicate.dimension`` (SDK 269): what the aggregates query may filter and
``groupBy`` on. The world models ``queueId`` and ``mediaType``; a ``groupBy`` naming any other of these
gets a valid empty answer (the simulator does not model that dimension), an unknown name a 400."""

CONVERSATION_ACTIVITY_DIMENSIONS: Final = (
    "activeRouting", "addressFrom", "addressTo", "agentScore", "ani", "conversationId", "convertedFrom",
    "convertedTo", "direction", "dnis", "mediaType", "participantName", "queueId", "requestedLanguageId",
    "requestedRouting", "requestedRoutingSkillId", "routingPriority", "scoredAgentId", "sessionId", "teamId",
    "usedRouting", "userId",
)
"""``ConversationActivityQueryPredicate.dimension`` (also the dimensions ``groupBy`` may name)."""

ROUTING_ACTIVITY_DIMENSIONS: Final = (
    "organizationPresenceId", "presenceDate", "queueId", "queueMembershipStatus", "routingStatus",
    "routingStatusDate", "systemPresence", "teamId", "userId",
)
"""``RoutingActivityQueryPredicate.dimension``."""

ACTIVITY_ORDERS: Final = ("asc", "desc", "unordered")
"""``*ActivityQuery.order``."""
